import { createHash, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import vm from 'node:vm';
import { Eta, EtaError } from 'eta';
import { FettleError, type Host } from '@fettle/core';
import { helpers } from './helpers.js';

/** A template file from the site, split into its body and its optional hash block. */
export interface LoadedTemplate {
  /** Absolute path of the template file. */
  readonly file: string;
  /** The path as the user wrote it (relative to the site), for messages. */
  readonly source: string;
  /** The template without its hash block (replaced by a comment of as many lines). */
  readonly body: string;
  /** The hash block, padded with newlines so its line numbers are the file's. */
  readonly hashBlock: string | undefined;
  /** Whether the template calls `secret(…)`: its file then defaults to mode 0600. */
  readonly usesSecrets: boolean;
}

/** What a template sees besides helpers: the host (and its vars) and the item's extra context. */
export interface TemplateInput {
  readonly host: Host;
  readonly context?: Readonly<Record<string, unknown>> | undefined;
}

/** Resolves a secret by name; absent in previews, where secrets print as `<secret:NAME>`. */
export type SecretResolver = (name: string) => Promise<string>;

export interface Rendered {
  /** The file content, secrets included. */
  readonly content: string;
  /** The same with every secret shown as `<secret:NAME>`, for diffs and previews. */
  readonly display: string;
  /** Secret name → value, for scrubbing what the host already has. */
  readonly secrets: ReadonlyMap<string, string>;
}

const OPEN = /<%[-_]?\s*hash\s*[-_]?%>/g;
const CLOSE = /<%[-_]?\s*\/\s*hash\s*[-_]?%>/g;

const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

function templateError(source: string, line: number | undefined, message: string, cause?: unknown): FettleError {
  return new FettleError('E_TEMPLATE', message, {
    where: line === undefined ? `template ${source}` : `template ${source}:${line}`,
    hint: 'Eta syntax: <%= expression %>, <% code %>, <% hash %>…<% /hash %>; see the @fettle/template-eta README',
    cause,
  });
}

/** Split off the `<% hash %>…<% /hash %>` block, keeping every line where it was. */
export function splitHashBlock(text: string, source: string): { body: string; hashBlock: string | undefined } {
  const opens = [...text.matchAll(OPEN)];
  const closes = [...text.matchAll(CLOSE)];
  if (opens.length > 1) throw templateError(source, lineAt(text, opens[1]?.index ?? 0), 'a template may have only one <% hash %> block');
  if (closes.length > 1) throw templateError(source, lineAt(text, closes[1]?.index ?? 0), 'a template may have only one <% /hash %>');
  const [open] = opens;
  const [close] = closes;
  if (!open && !close) return { body: text, hashBlock: undefined };
  if (!open || !close) {
    const at = (open ?? close)?.index ?? 0;
    throw templateError(source, lineAt(text, at), open ? '<% hash %> is never closed with <% /hash %>' : '<% /hash %> without <% hash %>');
  }
  if (close.index < open.index) throw templateError(source, lineAt(text, close.index), '<% /hash %> comes before <% hash %>');
  const start = open.index + open[0].length;
  const inner = text.slice(start, close.index);
  const region = text.slice(open.index, close.index + close[0].length);
  const newlines = '\n'.repeat(region.split('\n').length - 1);
  return {
    // An Eta comment spanning the same lines, so errors below it keep their line numbers.
    body: `${text.slice(0, open.index)}<%/*${newlines}*/%>${text.slice(close.index + close[0].length)}`,
    hashBlock: '\n'.repeat(lineAt(text, start) - 1) + inner,
  };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Template text from bytes: invalid UTF-8 is an error at its line, never silently replaced by U+FFFD. */
function decodeTemplate(bytes: Buffer, source: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    // Find the first bad byte by decoding growing prefixes line by line.
    let start = 0;
    let line = 1;
    for (;;) {
      const end = bytes.indexOf(0x0a, start);
      const chunk = bytes.subarray(start, end < 0 ? bytes.length : end);
      try {
        UTF8.decode(chunk);
      } catch {
        break;
      }
      if (end < 0) break;
      start = end + 1;
      line++;
    }
    throw new FettleError('E_TEMPLATE', 'the template is not valid UTF-8', {
      where: `template ${source}:${line}`,
      expected: 'UTF-8 text',
      hint: 'convert it (iconv -f latin1 -t utf-8), or copy binary content with a file item and `source`',
    });
  }
}

/** Read a template from the site (relative to `siteDir`). */
export async function loadTemplate(siteDir: string, source: string): Promise<LoadedTemplate> {
  const file = path.resolve(siteDir, source);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new FettleError('E_REFERENCE', `cannot read template: ${code}`, { where: `template ${source}`, expected: `a readable file at ${file}`, cause: error });
  }
  const text = decodeTemplate(bytes, source);
  return { file, source, ...splitHashBlock(text, source), usesSecrets: /\bsecret\s*\(/.test(text) };
}

/** The line of a JavaScript syntax error in compiled template code, mapped back to the template. */
function syntaxErrorLine(eta: Eta, text: string): { line: number | undefined; message: string } {
  const code = eta.compileToString(text);
  try {
    new vm.Script(`(function (it, options) {\n${code}\n})`, { filename: 'template.js' });
  } catch (error) {
    const stack = error instanceof Error ? (error.stack ?? '') : '';
    const generated = Number(/^template\.js:(\d+)/.exec(stack)?.[1] ?? 0) - 1;
    const before = code.split('\n').slice(0, Math.max(0, generated));
    const marker = before.reverse().find((line) => line.startsWith('__eta.line='));
    return { line: marker ? Number(marker.slice('__eta.line='.length)) : undefined, message: error instanceof Error ? `SyntaxError: ${error.message}` : String(error) };
  }
  return { line: undefined, message: 'bad template syntax' };
}

/** Skip a quoted string or comment starting at `at`; the index after it, or -1 when unclosed. */
function skipQuoted(text: string, at: number): number {
  const quote = text[at] as string;
  if (quote === '/') {
    const end = text.indexOf('*/', at + 2);
    return end < 0 ? -1 : end + 2;
  }
  for (let index = at + 1; index < text.length; index++) {
    if (text[index] === '\\') index++;
    else if (text[index] === quote) return index + 1;
    else if (text[index] === '\n' && quote !== '`') return -1;
  }
  return -1;
}

/**
 * Like Jinja's trim_blocks: the newline after a code tag (`<% if … %>`) is dropped,
 * the one after an output tag (`<%= … %>`) kept, so config lines stay lines. Done
 * by adding Eta's `-` trim marker to code tags that have none; no line moves.
 */
export function trimAfterCode(text: string): string {
  let out = '';
  let position = 0;
  for (;;) {
    const open = text.indexOf('<%', position);
    if (open < 0) return out + text.slice(position);
    const output = /^[-_]?\s*[=~]/.test(text.slice(open + 2, open + 40));
    let index = open + 2;
    let close = -1;
    while (index >= 0 && index < text.length) {
      const char = text[index];
      if (char === '%' && text[index + 1] === '>') {
        close = index;
        break;
      }
      index = char === '"' || char === "'" || char === '`' || (char === '/' && text[index + 1] === '*') ? skipQuoted(text, index) : index + 1;
    }
    if (close < 0) return out + text.slice(position); // Eta reports the unclosed tag
    const marker = text[close - 1];
    out += text.slice(position, close) + (output || marker === '-' || marker === '_' ? '' : '-') + '%>';
    position = close + 2;
  }
}

function engine(siteDir: string, source: string): Eta {
  const eta = new Eta({
    views: siteDir,
    // Config files, not HTML: no escaping. debug keeps line numbers for errors.
    autoEscape: false,
    autoTrim: false,
    plugins: [{ processTemplate: trimAfterCode }],
    debug: true,
    cache: false,
    functionHeader: 'const { host, vars, context, secret, h } = it;',
  });
  // Runtime errors: name the template (or the partial it includes) and the line.
  eta.RuntimeErr = (error: Error, _text: string, line: number, filepath: string): never => {
    if (error instanceof FettleError) throw error;
    const shown = filepath ? path.relative(siteDir, filepath) || source : source;
    throw templateError(shown, line, `${error.name}: ${error.message}`, error);
  };
  return eta;
}

function compileAndRun(siteDir: string, template: LoadedTemplate, text: string, data: object): string {
  const eta = engine(siteDir, template.source);
  let fn: ReturnType<Eta['compile']>;
  try {
    fn = eta.compile(text);
  } catch (error) {
    if (!(error instanceof EtaError)) throw error;
    if (error.message.startsWith('Bad template syntax')) {
      const { line, message } = syntaxErrorLine(eta, text);
      throw templateError(template.source, line, message, error);
    }
    const line = /at line (\d+)/.exec(error.message)?.[1];
    throw templateError(template.source, line === undefined ? undefined : Number(line), error.message.split('\n')[0] ?? error.message, error);
  }
  return eta.render(fn, data, { filepath: template.file });
}

/** Names asked of any object by JSON.stringify, await and inspection: absent is their normal answer. */
const PROBES = new Set(['toJSON', 'then', 'asymmetricMatch', '$$typeof', 'nodeType', 'inspect']);

/**
 * The template's view of host, vars and context: reading a property that is not
 * there throws (naming it) instead of printing `undefined` into a config file.
 * Use `'key' in vars` or `h.get(vars, 'a.b', fallback)` for optional values.
 */
function strict<T>(value: T, name: string): T {
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  // A copy, so a frozen object's proxy may hand out strict views of its entries.
  const copy: object = Array.isArray(value) ? [...(value as unknown[])] : { ...value };
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'symbol' || PROBES.has(key)) return Reflect.get(target, key, receiver) as unknown;
      if (!(key in target)) throw new ReferenceError(`${name}.${key} is not defined`);
      const entry: unknown = Reflect.get(target, key, receiver);
      return Object.hasOwn(target, key) && typeof entry !== 'function' ? strict(entry, Array.isArray(target) ? `${name}[${key}]` : `${name}.${key}`) : entry;
    },
  }) as T;
}

/**
 * Render a template (its body, or its hash block). `secret(name)` inserts a marker
 * while rendering; the named secrets are resolved afterwards, only for what was
 * rendered, and put in place of their markers: a secret is inserted as it is.
 */
async function render(template: LoadedTemplate, text: string, input: TemplateInput, siteDir: string, resolve: SecretResolver | undefined): Promise<Rendered> {
  const nonce = String(randomInt(1e9, 1e10 - 1));
  const asked: string[] = [];
  const secret = (name: unknown): string => {
    if (typeof name !== 'string' || name === '') throw new Error('secret() expects a secret name');
    if (!asked.includes(name)) asked.push(name);
    return `@@fettle-secret-${nonce}-${asked.indexOf(name)}@@`;
  };
  const data = { host: strict(input.host, 'host'), vars: strict(input.host.vars, 'vars'), context: strict(input.context ?? {}, 'context'), secret, h: helpers };
  const raw = compileAndRun(siteDir, template, text, data);
  const values = new Map<string, string>();
  for (const name of asked) values.set(name, resolve ? await resolve(name) : `<secret:${name}>`);
  let content = raw;
  let display = raw;
  asked.forEach((name, index) => {
    const marker = `@@fettle-secret-${nonce}-${index}@@`;
    content = content.split(marker).join(values.get(name) ?? '');
    display = display.split(marker).join(`<secret:${name}>`);
  });
  if (content.includes(nonce)) {
    throw templateError(template.source, undefined, 'a secret(…) value was changed inside the template; secrets can only be inserted as they are (pass a derived value through the item context instead)');
  }
  return { content, display, secrets: values };
}

/** Render the body of a template to file content. */
export function renderBody(template: LoadedTemplate, input: TemplateInput, siteDir: string, resolve?: SecretResolver): Promise<Rendered> {
  return render(template, template.body, input, siteDir, resolve);
}

/** The value of the hash block (trimmed), or undefined when the template has none. */
export async function renderHash(template: LoadedTemplate, input: TemplateInput, siteDir: string, resolve?: SecretResolver): Promise<string | undefined> {
  if (template.hashBlock === undefined) return undefined;
  return (await render(template, template.hashBlock, input, siteDir, resolve)).content.trim();
}

/** What the host stores for a hash block: its sha256 (a hash block may use secrets). */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
