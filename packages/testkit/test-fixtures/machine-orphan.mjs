// Boots one host, says so, then waits to be SIGKILLed by machine.test.ts: the
// watchdog must then power the host off and clean up without any help from us.
import { startMachine } from '../dist/index.js';

const machine = await startMachine('orphan', { log: () => undefined });
process.stdout.write(`booted ${machine.root}\n`);
setInterval(() => undefined, 60_000);
