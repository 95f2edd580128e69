import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

// Also builds the `create-fettle` executable.
export default defineConfig({ ...packageBuild, entry: ['src/index.ts', 'src/bin.ts'], dts: { entry: 'src/index.ts' } });
