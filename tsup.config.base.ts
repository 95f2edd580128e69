import { defineConfig, type Options } from 'tsup';

/** The one build every package shares: ESM and .d.ts from src/index.ts, for node 20. */
export const packageBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
};

export default defineConfig(packageBuild);
