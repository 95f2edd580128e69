#!/usr/bin/env node
import { installCompileCache } from './compile-cache.js';

// First, before anything else loads: every CommonJS module of the run then compiles through the
// code cache. main.js is imported after it (a static import would be evaluated before this line).
installCompileCache();
const { main } = await import('./main.js');

// A reader that stops early (`fettle --help | head`, `fettle apply | grep -m1 …`) closes the pipe.
// Stop writing there, quietly, but let the run finish: an apply cut short by its reader would
// leave its hosts locked.
const ignoreClosedPipe = (error: NodeJS.ErrnoException): void => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
};
process.stdout.on('error', ignoreClosedPipe);
process.stderr.on('error', ignoreClosedPipe);

process.exitCode = await main(process.argv.slice(2));
