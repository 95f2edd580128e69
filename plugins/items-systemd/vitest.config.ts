import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'items-systemd', testTimeout: 120000, hookTimeout: 120000 } });
