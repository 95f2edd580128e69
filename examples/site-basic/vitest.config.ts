import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'site-basic', testTimeout: 60000, hookTimeout: 60000 } });
