import { build, defineConfig, type Options } from 'tsup';
import { builtinsForCommonJs, finishDist, packageBuild } from '../../tsup.config.base';

// The CLI also builds its executable, as one module graph split by command: bin.js holds the
// command table (commander and picocolors bundled in) and each command's code is a chunk it
// imports when that command runs. @fettle/core stays external, resolved as the site's plugins
// resolve it, so the CLI and the plugins share one copy (one registry, one set of error classes).
// The other dependencies (plugins, create-fettle, magicast, esbuild) stay external too and load
// only with the commands that use them.
//
// The executable is built on its own, and the library entries (index.js, bundle-main.js) after
// it, into the same folder: built together, every module the executable shares with them (the
// site loader, the output, the run command, the exit codes…) became a chunk of its own, and a
// verify loaded 15 of the CLI's ES modules (node 20 compiles each from source, every run). Apart,
// the executable's chunks follow its own commands only. Nothing loads both graphs in one process:
// the executable never imports index.js, and bundle-main.js is read by esbuild, not run.
const shared: Options = {
  ...packageBuild,
  splitting: true,
  noExternal: ['commander', 'picocolors'],
  // tsup's own rewrite of node: imports would resolve them before builtinsForCommonJs sees them.
  removeNodeProtocol: false,
  esbuildPlugins: [builtinsForCommonJs],
};

export default defineConfig({
  ...shared,
  entry: ['src/bin.ts'],
  dts: false,
  onSuccess: async () => {
    await build({ ...shared, config: false, clean: false, entry: ['src/index.ts', 'src/bundle-main.ts'], dts: { entry: 'src/index.ts' }, onSuccess: undefined });
    finishDist();
  },
});
