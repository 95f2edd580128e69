import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { build, defineConfig } from 'tsup';
import { finishDist, packageBuild } from '../../tsup.config.base';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const englishOnly = path.join(here, 'src/zod-locales.ts');

/** zod's `locales` namespace, as bundled: only `en` (see src/zod-locales.ts). */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: englishOnly } : undefined,
    );
  },
};

const ENTRIES = { index: 'src/index.ts', engine: 'src/engine-api.ts' } as const;

/**
 * Core's code is one CommonJS file, dist/core.cjs (the engine entry: everything, zod included),
 * behind two small ES modules that give each entry's names. They load it with `require`, not
 * `import`: fettle's code cache (packages/cli/src/compile-cache.ts) covers CommonJS only on node 20,
 * and an `import` of it would have node scan its 500 KB for export names on every run (~70 ms, more
 * than compiling it). Both façades load the same file, so a process holds one core: one registry,
 * one set of error classes, whichever entry a site, plugin or the CLI imports. Bundlers (esbuild
 * for `fettle build`, vite for the tests) take the `module` condition instead: façades that
 * `export … from './core.cjs'`, which a bundler follows and node would scan.
 */
async function facadesOverCommonJs(): Promise<void> {
  const names: Record<string, string[]> = {};
  for (const entry of Object.keys(ENTRIES)) {
    // The names each entry gives, read from the ES build tsup just made (and that these files replace).
    const namespace = (await import(`${pathToFileURL(path.join(dist, `${entry}.js`)).href}?names=${Date.now()}`)) as object;
    names[entry] = Object.keys(namespace).sort();
  }
  await build({
    config: false,
    silent: true,
    entry: { core: ENTRIES.engine },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    target: packageBuild.target,
    sourcemap: false,
    dts: false,
    clean: false,
    noExternal: ['zod'],
    esbuildPlugins: [zodEnglishOnly],
  });
  for (const file of readdirSync(dist)) if (/^chunk-.*\.js$/.test(file)) rmSync(path.join(dist, file));
  for (const [entry, list] of Object.entries(names)) {
    const exported = list.map((name) => `  ${name},`).join('\n');
    writeFileSync(
      path.join(dist, `${entry}.js`),
      `// @fettle/core${entry === 'index' ? '' : `/${entry}`} for node: the implementation is dist/core.cjs (see packages/core/tsup.config.ts).\nimport { createRequire } from 'node:module';\n\nconst core = createRequire(import.meta.url)('./core.cjs');\n\nexport const {\n${exported}\n} = core;\n`,
    );
    writeFileSync(path.join(dist, `${entry}.module.js`), `// @fettle/core${entry === 'index' ? '' : `/${entry}`} for bundlers (the \`module\` condition).\nexport {\n${exported}\n} from './core.cjs';\n`);
  }
  finishDist(dist);
}

// zod is bundled in (one module instead of about a hundred files to resolve and read on every run);
// sites and plugins reach it only as `z` from @fettle/core, so there is still one copy. It stays a
// dependency for its types, which the .d.ts files import. The ES build gives the .d.ts files and the
// names of each entry; facadesOverCommonJs then puts core.cjs and the façades in its place.
export default defineConfig({
  ...packageBuild,
  entry: ENTRIES,
  noExternal: ['zod'],
  esbuildPlugins: [zodEnglishOnly],
  onSuccess: facadesOverCommonJs,
});
