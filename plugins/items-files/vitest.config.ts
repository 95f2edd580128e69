import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'items-files', testTimeout: 60000, hookTimeout: 60000 } });
