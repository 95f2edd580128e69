import type { Host } from '@fettle/core';
import { jumpChainForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost } from './test-support.js';

/**
 * A ProxyJump chain of three test hosts before the target, where each host's own
 * ssh_config block names only the hop before it: fettle must follow the chain hop by
 * hop, as ssh does, and reach the target through all three.
 */
describe('ssh transport: a three-hop ProxyJump chain from ssh_config', () => {
  const chain = jumpChainForTests(['j1', 'j2', 'j3', 'target']);
  const { kits } = chain;
  beforeAll(chain.start);
  afterAll(chain.stop);

  it('reaches the target through j1, j2 and j3: one connection on each, the command only on the target', async () => {
    const marks = await Promise.all(kits.map((kit) => kit.get().mark()));
    const host: Host = { name: 'target', transport: 'ssh', transportOptions: { sshConfig: chain.config() }, groups: [], roles: [], vars: {}, readonly: false };
    const transport = await connectHost(host);
    try {
      expect((await transport.exec('echo "at the end of the chain"')).stdout.toString()).toBe('at the end of the chain\n');
    } finally {
      await transport.close();
    }
    const counts = await Promise.all(kits.map((kit, index) => kit.get().countsSince(marks[index] ?? { offset: 0 })));
    expect(counts.map((count) => [count.connections, count.execs])).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 1],
    ]);
  });
});
