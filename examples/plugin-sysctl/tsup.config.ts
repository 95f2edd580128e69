import { defineConfig } from 'tsup';

// ESM and .d.ts for node 20; no source maps (they would point at src/, which is not published).
export default defineConfig({ entry: ['src/index.ts'], format: ['esm'], dts: true, clean: true, target: 'node20' });
