import { defineConfig } from 'vitest/config';

// Boots Debian hosts (the first run on a machine also builds their tree, a few minutes).
export default defineConfig({
  test: {
    name: 'site-web',
    testTimeout: 300_000,
    hookTimeout: 1_800_000,
    // Fail the run if any booted host of the kit is left behind.
    globalSetup: ['../../packages/testkit/machine-check.global-setup.mjs'],
  },
});
