import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'items-action', testTimeout: 120000, hookTimeout: 120000 } });
