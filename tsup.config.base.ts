import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { defineConfig, type Options } from 'tsup';

/** esbuild's plugin type, as tsup takes it (esbuild itself is not resolvable from the repository root). */
type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * A CommonJS dependency bundled into an ES build (commander in the CLI) requires node builtins; each
 * such require becomes a small module that asks node for it (process.getBuiltinModule, node >=
 * 20.16), so the output declares no `require` of its own (which would clash with the one a site
 * bundle's preamble declares).
 */
export const builtinsForCommonJs: Plugin = {
  name: 'builtins-for-commonjs',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => (args.kind === 'require-call' && isBuiltin(args.path) ? { path: args.path, namespace: 'node-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** One `import … from "<builtin>"` as esbuild prints it: the clause and the specifier. */
const BUILTIN_IMPORT = /^import ([^;]+?) from "((?:node:)?[a-z_/]+)";\n/gm;

/**
 * Rewrites a built ES module's imports of node builtins as `const … = process.getBuiltinModule(…)`,
 * hoisted to the top as imports are. Why: an `import … from 'node:fs'` makes node build the
 * builtin's ES façade, which reads every export and so runs the lazy getters node keeps for what is
 * rarely used: `fs` loads fs/promises, `crypto` webcrypto, `util` parseArgs and MIME, `net`
 * BlockList and SocketAddress: node's own modules compiled on every run for nothing. (An esbuild
 * plugin cannot do this without making each builtin a module, or with splitting a chunk, of its own.)
 */
export function builtinsOnDemand(code: string): string {
  const consts: string[] = [];
  const rest = code.replace(BUILTIN_IMPORT, (statement, clause: string, specifier: string) => {
    if (!isBuiltin(specifier)) return statement;
    const from = `process.getBuiltinModule(${JSON.stringify(specifier.startsWith('node:') ? specifier : `node:${specifier}`)})`;
    const named = /\{([^}]*)\}/.exec(clause);
    const head = clause.replace(/,?\s*\{[^}]*\}/, '').trim();
    if (head.startsWith('* as ')) consts.push(`const ${head.slice(5).trim()} = ${from};`);
    else if (head) consts.push(`const ${head} = ${from};`);
    if (named) {
      const names = (named[1] ?? '').split(',').map((name) => name.trim()).filter(Boolean);
      const whole = names.filter((name) => name.startsWith('default as ')).map((name) => name.slice('default as '.length).trim());
      const parts = names.filter((name) => !name.startsWith('default as ')).map((name) => name.replace(/^(\S+)\s+as\s+(\S+)$/, '$1: $2'));
      for (const local of whole) consts.push(`const ${local} = ${from};`);
      if (parts.length) consts.push(`const { ${parts.join(', ')} } = ${from};`);
    }
    return '';
  });
  if (consts.length === 0) return code;
  const hashbang = /^#!.*\n/.exec(rest)?.[0] ?? '';
  return `${hashbang}${consts.join('\n')}\n${rest.slice(hashbang.length)}`;
}

/**
 * Finishes the built .js/.cjs files of `dist`: builtins imported on demand (above), and what is left
 * of non-ASCII escaped (esbuild escapes it in code but keeps comments as written; one `—` in a
 * comment makes V8 hold the whole module's source as a two-byte string: core.cjs took 1 MB of every
 * run's heap instead of 0.5 MB).
 */
export function finishDist(dist = 'dist'): void {
  for (const name of readdirSync(dist)) {
    if (!/\.c?js$/.test(name)) continue;
    const file = path.join(dist, name);
    const text = readFileSync(file, 'utf8');
    let out = name.endsWith('.js') ? builtinsOnDemand(text) : text;
    // eslint-disable-next-line no-control-regex
    out = out.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (out !== text) writeFileSync(file, out);
  }
}

/**
 * The one build every package shares: ESM and .d.ts from src/index.ts, for node 20. No source maps:
 * a published map would point at src/ files the tarball does not ship.
 */
export const packageBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: false,
  target: 'node20',
  onSuccess: async () => finishDist(),
};

export default defineConfig(packageBuild);
