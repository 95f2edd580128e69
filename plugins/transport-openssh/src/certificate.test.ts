import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isUnreachableError, type Host } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, rejection } from './test-support.js';

/**
 * A host whose sshd accepts only user certificates signed by a test CA (no
 * authorized_keys at all) and presents a host certificate signed by the same CA;
 * the client trusts the CA through `@cert-authority` and has no plain host key. The
 * system ssh does all of it, so the openssh transport reaches the host.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'fettle-openssh-ca-'));
const keygen = (...args: string[]): void => void execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
const ca = path.join(dir, 'ca');
const hostKey = path.join(dir, 'host_ed25519');
const userKey = path.join(dir, 'user_ed25519');
keygen('-t', 'ed25519', '-N', '', '-C', 'fettle test CA', '-f', ca);
keygen('-t', 'ed25519', '-N', '', '-f', hostKey);
keygen('-t', 'ed25519', '-N', '', '-f', userKey);
// Host certificate for 127.0.0.1; user certificate for the login user (ssh picks up user_ed25519-cert.pub itself).
keygen('-s', ca, '-I', 'fettle-test-host', '-h', '-n', '127.0.0.1', '-V', '-5m:+1h', `${hostKey}.pub`);
const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
keygen('-s', ca, '-I', 'fettle-test-user', '-n', user, '-V', '-5m:+1h', `${userKey}.pub`);

describe('a host reachable only with CA-signed certificates', () => {
  const sshd = sshdForTests({
    hosts: ['node1'],
    // Plain lines go before the kit's defaults and win: no authorized_keys, the CA instead; our host key and its certificate.
    extraConfig: [`AuthorizedKeysFile none`, `TrustedUserCAKeys ${ca}.pub`, `HostKey ${hostKey}`, `HostCertificate ${hostKey}-cert.pub`].join('\n'),
  });
  let config: string;
  let knownHosts: string;

  beforeAll(async () => {
    await sshd.start();
    const kit = sshd.get();
    knownHosts = path.join(dir, 'known_hosts');
    await writeFile(knownHosts, `@cert-authority [127.0.0.1]:${kit.port} ${(await readFile(`${ca}.pub`, 'utf8')).trim()}\n`);
    config = path.join(dir, 'ssh_config');
    await writeFile(
      config,
      [
        'Host ca-host',
        '  HostName 127.0.0.1',
        `  Port ${kit.port}`,
        `  User ${user}`,
        `  IdentityFile ${userKey}`,
        `  CertificateFile ${userKey}-cert.pub`,
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
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const host = (): Host => ({ name: 'ca-host', transport: 'openssh', transportOptions: { sshConfig: config }, groups: [], roles: [], vars: {}, readonly: false });

  it('the openssh transport logs in with the user certificate and trusts the host certificate', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const transport = await connectHost(host());
    try {
      expect((await transport.exec('id -un')).stdout.toString()).toBe(`${user}\n`);
    } finally {
      await transport.close();
    }
    const log = await kit.readLog(mark);
    expect(log).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1 .*ED25519-CERT/);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1, failedAuth: 0 });
  });

  it('the plain key alone, without its certificate, is refused by this sshd (the certificate is what gets in)', async () => {
    const plainConfig = path.join(dir, 'ssh_config.plain');
    // A copy of the key without its -cert.pub beside it, and no CertificateFile.
    const keyOnly = path.join(dir, 'key-only');
    await copyFile(userKey, keyOnly);
    await copyFile(`${userKey}.pub`, `${keyOnly}.pub`);
    const text = await readFile(config, 'utf8');
    await writeFile(plainConfig, text.replace(/ {2}CertificateFile .*\n/, '').replace(`IdentityFile ${userKey}`, `IdentityFile ${keyOnly}`));
    const error = await rejection(connectHost({ ...host(), transportOptions: { sshConfig: plainConfig } }));
    expect(isUnreachableError(error) && error.reason).toBe('auth');
  });
});
