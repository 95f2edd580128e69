#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { installCompileCache } from './compile-cache.js';
import { main } from './main.js';

// A run allocates most of what it keeps in its first hundred milliseconds, while V8's young
// generation starts at 1 MB and only doubles after each scavenge: growing it eightfold instead halves
// the scavenges of a 1-host verify (8 to 4). (--min-semi-space-size would do more, but only on
// node's command line: set now, it changes nothing.) The young generation's ceiling is unchanged.
setFlagsFromString('--semi-space-growth-factor=8');
// The code cache, before the first CommonJS module compiles. bin.js's static imports (the command
// table, with commander and picocolors bundled in as ES code) hold none: core, the plugins and ssh2
// load when main() runs a command. (Importing main.js dynamically, after this line, would cost
// --help one more module.)
installCompileCache();

// A reader that stops early (`fettle --help | head`, `fettle apply | grep -m1 …`) closes the pipe.
// Stop writing there, quietly, but let the run finish: an apply cut short by its reader would
// leave its hosts locked.
const ignoreClosedPipe = (error: NodeJS.ErrnoException): void => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
};
process.stdout.on('error', ignoreClosedPipe);
process.stderr.on('error', ignoreClosedPipe);

process.exitCode = await main(process.argv.slice(2));
