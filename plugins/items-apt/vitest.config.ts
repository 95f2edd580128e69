import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'items-apt',
    testTimeout: 120000,
    hookTimeout: 120000,
    // Its booted-host tests: fail the run if any host of the kit is left behind.
    globalSetup: ['../../packages/testkit/machine-check.global-setup.mjs'],
  },
});
