import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'transport-shell', testTimeout: 60000, hookTimeout: 60000 } });
