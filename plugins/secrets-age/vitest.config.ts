import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'secrets-age', testTimeout: 30000 } });
