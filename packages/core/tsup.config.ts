import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.config.base';

// Two entry points: the public API, and the engine subpath the CLI uses.
export default defineConfig({ ...packageBuild, entry: { index: 'src/index.ts', engine: 'src/engine-api.ts' } });
