import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { finishDist, packageBuild } from '../../tsup.config.base';

// src/ssh2-parts.cjs stays a file of its own beside index.js (see why in it): node loads it as
// CommonJS, through fettle's code cache, and a bundler follows it and its requires.
export default defineConfig({
  ...packageBuild,
  external: ['./ssh2-parts.cjs'],
  onSuccess: async () => {
    copyFileSync('src/ssh2-parts.cjs', 'dist/ssh2-parts.cjs');
    finishDist();
  },
});
