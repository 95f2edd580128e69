import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { name: 'template-eta', testTimeout: 60000 } });
