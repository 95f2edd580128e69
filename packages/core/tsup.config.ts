import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

const englishOnly = fileURLToPath(new URL('./src/zod-locales.ts', import.meta.url));

/** zod's `locales` namespace, as bundled: only `en` (see src/zod-locales.ts). */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: englishOnly } : undefined,
    );
  },
};

// Two entry points: the public API, and the engine subpath the CLI uses. zod is bundled in (one
// module instead of about a hundred files to resolve and read on every run: about half its load
// time); sites and plugins reach it only as `z` from @fettle/core, so there is still one copy.
// It stays a dependency for its types, which the .d.ts files import.
export default defineConfig({
  ...packageBuild,
  entry: { index: 'src/index.ts', engine: 'src/engine-api.ts' },
  noExternal: ['zod'],
  esbuildPlugins: [zodEnglishOnly],
});
