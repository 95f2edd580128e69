import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isUnreachableError, type Host } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection } from './test-support.js';

describe('ssh transport: ProxyJump', () => {
  const jump = sshdForTests({ hosts: ['bastion'] });
  const target = sshdForTests({ hosts: ['inner'] });
  let dir: string;
  let knownHosts: string;

  beforeAll(async () => {
    await Promise.all([jump.start(), target.start()]);
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-jump-'));
    // One key for both hops: authorize the jump kit's client key on the target too.
    await appendFile(path.join(target.get().dir, 'authorized_keys'), `${jump.get().clientPublicKey}\n`);
    knownHosts = path.join(dir, 'known_hosts');
    await writeFile(knownHosts, (await readFile(jump.get().knownHostsPath, 'utf8')) + (await readFile(target.get().knownHostsPath, 'utf8')));
  });
  afterAll(async () => {
    await Promise.all([jump.stop(), target.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reaches one test host through another (proxyJump option); each sshd counts its part', async () => {
    const a = jump.get();
    const b = target.get();
    const [markA, markB] = await Promise.all([a.mark(), b.mark()]);
    const host = kitHost(b, { identityFile: a.clientKeyPath, knownHosts, proxyJump: `${a.user}@127.0.0.1:${a.port}` }, { name: 'inner' });
    const transport = await connectHost(host);
    expect((await transport.exec('echo inside')).stdout.toString()).toBe('inside\n');
    await transport.writeFile(path.join(b.hosts['inner']?.root ?? '', 'via-jump'), 'ok');
    await transport.close();
    expect(await readFile(path.join(b.hosts['inner']?.root ?? '', 'via-jump'), 'utf8')).toBe('ok');
    expect(await a.countsSince(markA)).toMatchObject({ connections: 1, execs: 0, sftp: 0 });
    expect(await b.countsSince(markB)).toMatchObject({ connections: 1, execs: 2, sftp: 0 });
  });

  it('takes ProxyJump, HostName, Port, User and IdentityFile from ssh_config', async () => {
    const a = jump.get();
    const b = target.get();
    const config = path.join(dir, 'ssh_config');
    await writeFile(
      config,
      [
        'Host inner',
        '  HostName 127.0.0.1',
        `  Port ${b.port}`,
        '  ProxyJump bastion',
        'Host bastion',
        '  HostName 127.0.0.1',
        `  Port ${a.port}`,
        'Host *',
        `  User ${a.user}`,
        `  IdentityFile ${a.clientKeyPath}`,
        '',
      ].join('\n'),
    );
    const host: Host = {
      name: 'inner',
      transport: 'ssh',
      transportOptions: { sshConfig: config, knownHosts, agent: false },
      groups: [],
      roles: [],
      vars: {},
      readonly: false,
    };
    const markA = await a.mark();
    const transport = await connectHost(host);
    expect((await transport.exec('echo configured')).stdout.toString()).toBe('configured\n');
    await transport.close();
    expect(await a.countsSince(markA)).toMatchObject({ connections: 1, execs: 0 });
  });

  it('checks the host key of the jump host too', async () => {
    const a = jump.get();
    const b = target.get();
    const onlyTarget = path.join(dir, 'known_hosts.target-only');
    await writeFile(onlyTarget, await readFile(b.knownHostsPath, 'utf8'));
    const error = await rejection(connectHost(kitHost(b, { identityFile: a.clientKeyPath, knownHosts: onlyTarget, proxyJump: `127.0.0.1:${a.port}` })));
    expect(isUnreachableError(error) && error.reason).toBe('host-key');
    expect(error.message).toMatch(/via jump host 127\.0\.0\.1/);
  });
});
