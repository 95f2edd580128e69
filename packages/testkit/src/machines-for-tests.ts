import { machineLeftovers } from './machine-cleanup.js';
import { machineSupport, startMachine, type Machine, type StartMachineOptions } from './machine.js';

export interface MachinesForTestsOptions extends StartMachineOptions {
  /** Host names to boot (each its own container); default `['node1']`. */
  hosts?: string[];
}

export interface MachinesForTests {
  /** Why booted hosts cannot run here (for `describe.skipIf(machines.skip)`), or undefined. */
  readonly skip: string | undefined;
  /** The booted host of that name; throws if `start()` has not run. */
  readonly get: (name: string) => Machine;
  /** Every booted host, in the order named. */
  readonly all: () => Machine[];
  /** Boots every host in parallel; pass to `beforeAll` (with a generous timeout). */
  readonly start: () => Promise<void>;
  /**
   * Powers every host off and then checks that nothing of this process's hosts is
   * left (mount, process, dir); throws naming what is. Pass to `afterAll`.
   */
  readonly stop: () => Promise<void>;
}

/**
 * Runner-agnostic lifecycle for booted hosts:
 * `const machines = machinesForTests({ hosts: ['web1'] }); beforeAll(machines.start, 600_000); afterAll(machines.stop);`
 */
export function machinesForTests(options: MachinesForTestsOptions = {}): MachinesForTests {
  const names = options.hosts ?? ['node1'];
  const booted = new Map<string, Machine>();
  const skip = machineSupport(options);
  return {
    skip,
    get: (name) => {
      const machine = booted.get(name);
      if (!machine) throw new Error(`machinesForTests: no booted host '${name}' (booted: ${[...booted.keys()].join(', ') || 'none'}); add beforeAll(machines.start)`);
      return machine;
    },
    all: () => names.flatMap((n) => booted.get(n) ?? []),
    start: async () => {
      if (skip) return;
      // The first host builds the tree if needed; the rest wait on its lock.
      const results = await Promise.allSettled(names.map(async (name) => {
        const machine = await startMachine(name, options);
        booted.set(name, machine);
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    stop: async () => {
      const results = await Promise.allSettled([...booted.values()].map((m) => m.stop()));
      booted.clear();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const left = machineLeftovers(process.pid);
      if (left.length > 0) throw new Error(`testkit: booted hosts left behind:\n${left.join('\n')}`);
    },
  };
}
