import { defineConfig } from 'tsup';
import { builtinsForCommonJs, packageBuild } from '../../tsup.config.base';

// The CLI also builds its executable, as one module graph split by command: bin.js holds the
// command table (commander and picocolors bundled in) and each command's code is a chunk it
// imports when that command runs. @fettle/core stays external, resolved as the site's plugins
// resolve it, so the CLI and the plugins share one copy (one registry, one set of error classes).
// The other dependencies (plugins, create-fettle, magicast, esbuild) stay external too and load
// only with the commands that use them.
export default defineConfig({
  ...packageBuild,
  entry: ['src/index.ts', 'src/bin.ts', 'src/bundle-main.ts'],
  dts: { entry: 'src/index.ts' },
  splitting: true,
  noExternal: ['commander', 'picocolors'],
  // tsup's own rewrite of node: imports would resolve them before builtinsForCommonJs sees them.
  removeNodeProtocol: false,
  esbuildPlugins: [builtinsForCommonJs],
});
