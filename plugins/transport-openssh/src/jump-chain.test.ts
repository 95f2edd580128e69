import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Host } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
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
  const kits = [sshdForTests({ hosts: ['j1'] }), sshdForTests({ hosts: ['j2'] }), sshdForTests({ hosts: ['j3'] }), sshdForTests({ hosts: ['target'] })];
  let dir: string;
  let config: string;

  beforeAll(async () => {
    await Promise.all(kits.map((kit) => kit.start()));
    const [first] = kits.map((kit) => kit.get());
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-openssh-chain-'));
    const knownHosts = path.join(dir, 'known_hosts');
    let known = '';
    for (const kit of kits.map((k) => k.get())) {
      known += await readFile(kit.knownHostsPath, 'utf8');
      // One key for every hop: authorize the first kit's client key everywhere.
      if (kit !== first) await appendFile(path.join(kit.dir, 'authorized_keys'), `${first?.clientPublicKey ?? ''}\n`);
    }
    await writeFile(knownHosts, known);
    const [j1, j2, j3, target] = kits.map((kit) => kit.get());
    config = path.join(dir, 'ssh_config');
    await writeFile(
      config,
      [
        'Host target',
        `  HostName 127.0.0.1`,
        `  Port ${target?.port ?? 0}`,
        '  ProxyJump j3',
        'Host j3',
        '  HostName 127.0.0.1',
        `  Port ${j3?.port ?? 0}`,
        '  ProxyJump j2',
        'Host j2',
        '  HostName 127.0.0.1',
        `  Port ${j2?.port ?? 0}`,
        '  ProxyJump j1',
        'Host j1',
        '  HostName 127.0.0.1',
        `  Port ${j1?.port ?? 0}`,
        'Host *',
        `  User ${first?.user ?? 'root'}`,
        `  IdentityFile ${first?.clientKeyPath ?? ''}`,
        '  IdentitiesOnly yes',
        '  IdentityAgent none',
        `  UserKnownHostsFile ${knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await Promise.all(kits.map((kit) => kit.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('describe() shows each hop as ssh will use it (ssh -G), first hop first, without connecting', async () => {
    const marks = await Promise.all(kits.map((kit) => kit.get().mark()));
    const host: Host = { name: 'target', transport: 'openssh', transportOptions: { sshConfig: config }, groups: [], roles: [], vars: {}, readonly: false };
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
    const host: Host = { name: 'target', transport: 'openssh', transportOptions: { sshConfig: config }, groups: [], roles: [], vars: {}, readonly: false };
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
