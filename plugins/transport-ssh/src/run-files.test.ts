import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFiles } from './run-files.js';
import { connectHost, kitHost, testContext } from './test-support.js';

const HOSTS = 16;

describe('ssh transport: controller files read once per run', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  let dir: string;
  beforeAll(async () => {
    await sshd.start();
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-run-files-'));
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`reads the key file and known_hosts once for ${HOSTS} hosts of one run, and again in the next run`, async () => {
    const kit = sshd.get();
    const run = testContext();
    const hosts = Array.from({ length: HOSTS }, (_, index) => kitHost(kit, {}, { name: `h${index}` }));
    const transports = await Promise.all(hosts.map((host) => connectHost(host, run.context)));
    const outputs = await Promise.all(transports.map(async (transport) => (await transport.exec('echo in')).stdout.toString()));
    await Promise.all(transports.map((transport) => transport.close()));
    expect(outputs).toEqual(Array.from({ length: HOSTS }, () => 'in\n'));
    expect(Object.fromEntries(runFiles(run.context).reads)).toEqual({ [kit.clientKeyPath]: 1, [kit.knownHostsPath]: 1 });

    const next = testContext();
    await (await connectHost(hosts[0] ?? kitHost(kit), next.context)).close();
    expect(Object.fromEntries(runFiles(next.context).reads)).toEqual({ [kit.clientKeyPath]: 1, [kit.knownHostsPath]: 1 });
  });

  it('accept-new: a key recorded by one host of the run is seen by the later ones (known_hosts read again once, the key recorded once)', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'accept-new', 'known_hosts');
    const run = testContext();
    const host = (name: string, policy: 'accept-new' | 'strict') => kitHost(kit, { knownHosts, hostKeyPolicy: policy }, { name });
    await (await connectHost(host('first', 'accept-new'), run.context)).close();
    expect(run.warnings.filter((warning) => warning.includes('recorded new host key'))).toHaveLength(1);
    const later = await Promise.all(['a', 'b', 'c', 'd'].map((name) => connectHost(host(name, 'accept-new'), run.context)));
    await Promise.all(later.map((transport) => transport.close()));
    // strict in the same run: the recorded key is known now
    await (await connectHost(host('strict', 'strict'), run.context)).close();
    expect(run.warnings.filter((warning) => warning.includes('recorded new host key'))).toHaveLength(1);
    expect((await readFile(knownHosts, 'utf8')).trim().split('\n')).toHaveLength(1);
    // Missing at first (one read), read again once after the key was recorded.
    expect(runFiles(run.context).reads.get(knownHosts)).toBe(2);
  });
});
