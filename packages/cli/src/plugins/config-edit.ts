// Adds a plugin to fettle.config.ts. The syntax tree (magicast's parse) says where the
// imports end and where the `plugins` array is; the edit splices the new import and the
// new entry at those places only, so every other byte — comments, blank lines, the
// user's layout — stays as written (reprinting the tree would reflow the array).
import { parseModule } from 'magicast';
import { FettleError } from '@fettle/core';

interface Node {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}
interface Identifier extends Node {
  readonly name: string;
}
interface ImportDeclaration extends Node {
  readonly source: Node & { readonly value: string; readonly extra?: { readonly raw?: string } };
  readonly specifiers: readonly (Node & { readonly local: Identifier })[];
}
interface Property extends Node {
  readonly key: Node & { readonly name?: string; readonly value?: string };
  readonly value: Node;
}
interface ArrayExpression extends Node {
  readonly elements: readonly (Node | null)[];
}

export interface ConfigEdit {
  /** The new source (the same string when nothing changed). */
  readonly source: string;
  readonly changed: boolean;
  /** The name the plugin is bound to in the config. */
  readonly local: string;
}

/** A binding name for a package: `@fettle/items-apt` → `apt`, `fettle-plugin-sysctl` → `sysctl`. */
export function bindingName(packageName: string): string {
  const base = packageName
    .replace(/^@[^/]+\//, '')
    .replace(/^fettle-plugin-/, '')
    .replace(/^(items|transport|secrets|template|inventory)-/, '');
  const camel = base.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? '').toUpperCase());
  const safe = /^[A-Za-z_$]/.test(camel) ? camel : `plugin${camel}`;
  return RESERVED.has(safe) ? `${safe}Plugin` : safe;
}

const RESERVED = new Set(['default', 'import', 'export', 'new', 'delete', 'function', 'class', 'const', 'let', 'var', 'for', 'if', 'in', 'do', 'switch', 'case', 'with']);

function parse(source: string, file: string): readonly Node[] {
  try {
    return (parseModule(source).$ast as unknown as { body: readonly Node[] }).body;
  } catch (error) {
    throw new FettleError('E_SITE', `cannot parse the site config: ${error instanceof Error ? error.message : String(error)}`, { where: file });
  }
}

/** The `plugins: [...]` array of `export default defineSite({...})` (or of a plain exported object). */
function pluginsArray(body: readonly Node[], file: string): ArrayExpression {
  const exported = body.find((node) => node.type === 'ExportDefaultDeclaration') as (Node & { declaration: Node }) | undefined;
  let options: Node | undefined = exported?.declaration;
  if (options?.type === 'CallExpression') options = (options as Node & { arguments: readonly Node[] }).arguments[0];
  const property =
    options?.type === 'ObjectExpression'
      ? (options as Node & { properties: readonly Property[] }).properties.find(
          (p) => p.type === 'ObjectProperty' && (p.key.name ?? p.key.value) === 'plugins',
        )
      : undefined;
  if (property?.value.type !== 'ArrayExpression') {
    throw new FettleError('E_SITE', 'cannot find the plugins list of the site config', {
      where: file,
      expected: 'export default defineSite({ plugins: [ … ], … })',
      hint: 'add the import and the plugin to the plugins list by hand',
    });
  }
  return property.value as ArrayExpression;
}

const lineEnd = (source: string, from: number): number => {
  const at = source.indexOf('\n', from);
  return at === -1 ? source.length : at;
};

const indentOf = (source: string, at: number): string => {
  const start = source.lastIndexOf('\n', at - 1) + 1;
  return /^[ \t]*/.exec(source.slice(start))?.[0] ?? '';
};

/** Splices (position, text) pairs into the source, last first so positions stay valid. */
function splice(source: string, edits: readonly (readonly [number, string])[]): string {
  let out = source;
  for (const [at, text] of [...edits].sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

function entryEdits(source: string, array: ArrayExpression, local: string): (readonly [number, string])[] {
  const elements = array.elements.filter((element): element is Node => element !== null);
  const last = elements.at(-1);
  if (!last) return [[array.start + 1, local]];
  const multiline = source.slice(array.start, array.end).includes('\n');
  const after = source.slice(last.end, array.end - 1);
  const comma = /^\s*,/.exec(after);
  if (!multiline) return [[last.end, `, ${local}`]];
  const indent = indentOf(source, last.start);
  if (comma) return [[lineEnd(source, last.end + comma[0].length), `\n${indent}${local},`]];
  const end = lineEnd(source, last.end);
  return end === last.end ? [[end, `,\n${indent}${local}`]] : [[last.end, ','], [end, `\n${indent}${local}`]];
}

/**
 * Adds `import LOCAL from 'PACKAGE'` after the last import and LOCAL at the end of the
 * plugins list, unless the config already imports the package and lists it.
 */
export function addPluginToConfig(source: string, packageName: string, file: string): ConfigEdit {
  const body = parse(source, file);
  const imports = body.filter((node): node is ImportDeclaration => node.type === 'ImportDeclaration');
  const array = pluginsArray(body, file);
  const existing = imports
    .find((declaration) => declaration.source.value === packageName)
    ?.specifiers.find((specifier) => specifier.type === 'ImportDefaultSpecifier');
  const taken = new Set(imports.flatMap((declaration) => declaration.specifiers.map((specifier) => specifier.local.name)));
  let local = existing?.local.name ?? bindingName(packageName);
  for (let n = 2; !existing && taken.has(local); n++) local = `${bindingName(packageName)}${n}`;
  const listed = array.elements.some((element) => element?.type === 'Identifier' && (element as Identifier).name === local);
  if (existing && listed) return { source, changed: false, local };

  const edits = listed ? [] : entryEdits(source, array, local);
  if (!existing) {
    const lastImport = imports.at(-1);
    const quote = lastImport?.source.extra?.raw?.startsWith('"') ? '"' : "'";
    const semi = lastImport === undefined || source[lastImport.end - 1] === ';' ? ';' : '';
    const statement = `import ${local} from ${quote}${packageName}${quote}${semi}`;
    edits.push(lastImport ? [lineEnd(source, lastImport.end), `\n${statement}`] : [0, `${statement}\n`]);
  }
  const edited = splice(source, edits);
  // The result must still parse and list the plugin: a splice in the wrong place is caught here, not at the next run.
  const check = pluginsArray(parse(edited, file), file);
  if (!check.elements.some((element) => element?.type === 'Identifier' && (element as Identifier).name === local)) {
    throw new FettleError('E_INTERNAL', `editing the site config did not add ${local} to its plugins`, { where: file });
  }
  return { source: edited, changed: true, local };
}
