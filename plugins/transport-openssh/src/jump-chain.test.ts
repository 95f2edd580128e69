import type { Host } from '@fettle/core';
import { jumpChainForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensshOptionsSchema } from './options.js';
import { connectHost, testContext } from './test-support.js';
import { opensshTransport } from './transport.js';

/**
 * A ProxyJump chain of three test hosts before the target, where each host's own
 * ssh_config block names only the hop before it: fettle must follow the chain hop by
 * hop (here ssh itself does), and reach the target through all three.
 */
describe('openssh transport: a three-hop ProxyJump chain from ssh_config', () => {
  const chain = jumpChainForTests(['j1', 'j2', 'j3', 'target']);
  const { kits } = chain;
  beforeAll(chain.start);
  afterAll(chain.stop);

  it('describe() shows each hop as ssh will use it (ssh -G), first hop first, without connecting', async () => {
    const marks = await Promise.all(kits.map((kit) => kit.get().mark()));
    const host: Host = { name: 'target', transport: 'openssh', transportOptions: { sshConfig: chain.config() }, groups: [], roles: [], vars: {}, readonly: false };
    const description = await opensshTransport.describe?.(host, opensshOptionsSchema.parse(host.transportOptions), testContext().context);
    expect(description?.hops.map((hop) => hop.name)).toEqual(['j1', 'j2', 'j3', 'target']);
    const ports = kits.map((kit) => String(kit.get().port));
    expect(description?.hops.map((hop) => hop.settings.find(([keyword]) => keyword === 'port')?.[1])).toEqual(ports);
    expect(description?.hops[2]?.settings).toContainEqual(['proxyjump', 'j2']);
    const counts = await Promise.all(kits.map((kit, index) => kit.get().countsSince(marks[index] ?? { offset: 0 })));
    expect(counts.every((count) => count.connections === 0)).toBe(true);
  });

  it('reaches the target through j1, j2 and j3: one connection on each, the command only on the target', async () => {
    const marks = await Promise.all(kits.map((kit) => kit.get().mark()));
    const host: Host = { name: 'target', transport: 'openssh', transportOptions: { sshConfig: chain.config() }, groups: [], roles: [], vars: {}, readonly: false };
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
