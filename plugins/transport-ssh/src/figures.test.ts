import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost } from './test-support.js';

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

/**
 * Loopback figures, printed for the record. The only assertion guards against
 * Nagle: without setNoDelay every exec round trip stalls ~40 ms on delayed ACKs.
 */
describe('ssh transport: figures on loopback', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  beforeAll(sshd.start);
  afterAll(sshd.stop);

  it('connect, exec round trip, 100-file write (one command, one tar stream)', async () => {
    const kit = sshd.get();
    const root = kit.hosts['node1']?.root ?? '';
    const connects: number[] = [];
    for (let i = 0; i < 10; i++) {
      const start = process.hrtime.bigint();
      const transport = await connectHost(kitHost(kit));
      connects.push(ms(start));
      await transport.close();
    }
    const transport = await connectHost(kitHost(kit, { root }));
    try {
      await transport.exec('true');
      const execs: number[] = [];
      for (let i = 0; i < 30; i++) {
        const start = process.hrtime.bigint();
        await transport.exec('true');
        execs.push(ms(start));
      }
      const writes: number[] = [];
      for (let round = 0; round < 3; round++) {
        const dir = path.join(root, `round${round}`);
        await mkdir(dir);
        const start = process.hrtime.bigint();
        await Promise.all(Array.from({ length: 100 }, (_, i) => transport.writeFile(path.join(dir, `f${i}`), `content ${i}\n`.repeat(20), { mode: '0644' })));
        writes.push(ms(start));
      }
      const figures = { connectMs: median(connects), execRoundTripMs: median(execs), write100FilesMs: median(writes) };
      console.log(`transport-ssh figures (median): ${JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 10) / 10])))}`);
      expect(figures.execRoundTripMs).toBeLessThan(35);
    } finally {
      await transport.close();
    }
  });
});
