import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'e2e',
    testTimeout: 120000,
    hookTimeout: 300000,
  },
});
