import { isBuiltin } from 'node:module';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

/**
 * commander and picocolors are CommonJS: in an ESM bundle their `require('node:events')` would
 * need a real `require`. Each such require of a node builtin becomes a module that asks node for
 * it (process.getBuiltinModule, node >= 20.16), so the output declares no `require` of its own
 * (which would clash with the one a site bundle's preamble declares).
 */
const builtinsForCommonJs: Plugin = {
  name: 'builtins-for-commonjs',
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => (args.kind === 'require-call' && isBuiltin(args.path) ? { path: args.path, namespace: 'node-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

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
