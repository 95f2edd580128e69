import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'plugin-sysctl', testTimeout: 60000, hookTimeout: 60000 } });
