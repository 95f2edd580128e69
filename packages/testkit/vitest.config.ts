import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'testkit',
    testTimeout: 30000,
    hookTimeout: 30000,
    globalSetup: ['./machine-check.global-setup.mjs'],
  },
});
