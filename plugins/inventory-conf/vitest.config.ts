import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'inventory-conf', testTimeout: 30000 } });
