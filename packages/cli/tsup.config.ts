import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

// The CLI also builds its executable.
export default defineConfig({ ...packageBuild, entry: ['src/index.ts', 'src/bin.ts', 'src/bundle-main.ts'], dts: { entry: 'src/index.ts' } });
