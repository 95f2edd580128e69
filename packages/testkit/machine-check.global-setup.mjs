// A vitest globalSetup for test projects that boot hosts: at the very end of the run,
// fail it if any booted host of the kit is left whose test process has exited —
// a container still running, an overlay still mounted, an sshd inside, or a dir.
// (Each machinesForTests().stop already checks its own process's hosts.)
import { machineLeftovers } from './dist/index.js';

export function teardown() {
  const left = machineLeftovers('dead');
  if (left.length === 0) return;
  // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
  process.exitCode = 1;
  throw new Error(`@fettle/testkit: booted hosts left behind after the run:\n${left.join('\n')}`);
}
