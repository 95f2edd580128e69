import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'items-apt', testTimeout: 120000, hookTimeout: 120000 } });
