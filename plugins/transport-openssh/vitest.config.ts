import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { name: 'transport-openssh', testTimeout: 30000, hookTimeout: 30000 } });
