import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Host } from '@fettle/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshOptionsSchema } from './options.js';
import { resolveSettings } from './settings.js';

/**
 * `ssh -G` is asked once per distinct host for the run, whatever the number of
 * connections, and the hosts are asked in parallel. An `ssh` on PATH that logs its
 * calls and then runs the real one counts them (this file's module instance finds it
 * first: vitest gives each test file its own).
 */
describe('ssh -G resolution: once per distinct host, in parallel', () => {
  let dir: string;
  let log: string;
  let config: string;
  const savedPath = process.env['PATH'];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-g-'));
    log = path.join(dir, 'calls.log');
    const fake = path.join(dir, 'ssh');
    await writeFile(fake, `#!/bin/sh\necho "start $*" >> ${log}\nsleep 0.3\necho "end $*" >> ${log}\nexec /usr/bin/ssh "$@"\n`);
    await chmod(fake, 0o755);
    config = path.join(dir, 'ssh_config');
    await writeFile(config, 'Host app-*\n  ProxyJump bastion\nHost bastion\n  HostName 10.0.0.1\n  ServerAliveInterval 5\n  ServerAliveCountMax 2\n');
    process.env['PATH'] = `${dir}:${savedPath ?? ''}`;
  });
  afterAll(async () => {
    process.env['PATH'] = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  const host = (name: string): Host => ({ name, transport: 'ssh', transportOptions: {}, groups: [], roles: [], vars: {}, readonly: false });

  it('ten connects to four hosts behind one bastion cost five ssh -G calls, run at once', async () => {
    const options = sshOptionsSchema.parse({ sshConfig: config, agent: false });
    const names = ['app-1', 'app-2', 'app-3', 'app-4'];
    const started = Date.now();
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => resolveSettings(host(names[i % names.length] ?? ''), options, '/site')));
    const elapsed = Date.now() - started;
    const calls = (await readFile(log, 'utf8')).split('\n').filter((line) => line.startsWith('start'));
    expect(calls).toHaveLength(5);
    expect(calls.filter((line) => line.endsWith(' bastion'))).toHaveLength(1);
    // Four targets at 0.3 s each, then the bastion: far less than five calls in a row.
    expect(elapsed).toBeLessThan(1400);
    const first = all[0];
    expect(first?.jumps.map((jump) => jump.hostname)).toEqual(['10.0.0.1']);
    // ServerAliveInterval/CountMax become ssh2's keepalive settings; ssh's "off" keeps fettle's 15 s x 3.
    expect(first?.jumps[0]).toMatchObject({ keepaliveIntervalMs: 5000, keepaliveCountMax: 2 });
    expect(first?.target).toMatchObject({ keepaliveIntervalMs: 15_000, keepaliveCountMax: 3 });
  });

  it('sshConfig: false runs no ssh -G at all (the reader gives the defaults without a process)', async () => {
    const before = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line.startsWith('start')).length;
    const options = sshOptionsSchema.parse({ sshConfig: false, agent: false });
    const settings = await resolveSettings(host('plain-host'), options, '/site');
    expect(settings.target).toMatchObject({ hostname: 'plain-host', port: 22 });
    const after = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line.startsWith('start')).length;
    expect(after).toBe(before);
  });

  it('names each setting ssh2 cannot honour and points at the openssh transport', async () => {
    const odd = path.join(dir, 'ssh_config.odd');
    await writeFile(
      odd,
      [
        'Host fido',
        '  IdentityFile /keys/id_ed25519_sk',
        '  CertificateFile /keys/id_ed25519-cert.pub',
        '  HostKeyAlgorithms ssh-ed25519-cert-v01@openssh.com,ssh-ed25519',
        'Host certs-only',
        '  HostKeyAlgorithms ssh-ed25519-cert-v01@openssh.com',
        'Host piped',
        '  ProxyCommand nc %h %p',
        '',
      ].join('\n'),
    );
    const options = sshOptionsSchema.parse({ sshConfig: odd, agent: false });
    const fido = await resolveSettings(host('fido'), options, '/site');
    expect(fido.problems).toEqual([]);
    expect(fido.target.hostKeyAlgorithms).toEqual(['ssh-ed25519']);
    expect(fido.warnings.join('\n')).toMatch(/CertificateFile \/keys\/id_ed25519-cert\.pub .*transport 'openssh'/);
    expect(fido.warnings.join('\n')).toMatch(/id_ed25519_sk .*FIDO security key.*transport 'openssh'/);
    expect((await resolveSettings(host('certs-only'), options, '/site')).problems.join('\n')).toMatch(/HostKeyAlgorithms .*leaves nothing ssh2 can use.*transport 'openssh'/);
    expect((await resolveSettings(host('piped'), options, '/site')).problems.join('\n')).toMatch(/ProxyCommand \(nc %h %p\).*transport 'openssh'/);
  });
});
