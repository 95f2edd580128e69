import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'fleet', testTimeout: 120000, hookTimeout: 180000 } });
