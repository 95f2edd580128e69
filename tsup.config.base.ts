import { defineConfig, type Options } from 'tsup';

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
};

export default defineConfig(packageBuild);
