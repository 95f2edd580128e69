import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'core', testTimeout: 60000, hookTimeout: 60000 } });
