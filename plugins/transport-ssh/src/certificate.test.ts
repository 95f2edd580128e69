import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isUnreachableError, type Host } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, rejection, testContext } from './test-support.js';

/**
 * The host of transport-openssh's certificate test: its sshd accepts only user
 * certificates signed by a test CA and presents a CA-signed host certificate. ssh2 has
 * neither user nor host certificates, so this transport cannot reach it; what matters
 * is that it says why, naming the setting and the transport that can.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'fettle-ssh-ca-'));
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

describe('ssh transport (ssh2) and a certificate-only host', () => {
  const sshd = sshdForTests({
    hosts: ['node1'],
    extraConfig: [`AuthorizedKeysFile none`, `TrustedUserCAKeys ${ca}.pub`, `HostKey ${hostKey}`, `HostCertificate ${hostKey}-cert.pub`].join('\n'),
  });
  beforeAll(sshd.start);
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function configWith(knownHostsLines: string[]): Promise<string> {
    const kit = sshd.get();
    const knownHosts = path.join(dir, `known_hosts.${knownHostsLines.length}`);
    await writeFile(knownHosts, knownHostsLines.map((line) => `${line}\n`).join(''));
    const config = path.join(dir, `ssh_config.${knownHostsLines.length}`);
    await writeFile(
      config,
      ['Host ca-host', '  HostName 127.0.0.1', `  Port ${kit.port}`, `  User ${user}`, `  IdentityFile ${userKey}`, `  CertificateFile ${userKey}-cert.pub`, '  IdentitiesOnly yes', '  IdentityAgent none', `  UserKnownHostsFile ${knownHosts}`, '  GlobalKnownHostsFile /dev/null', ''].join('\n'),
    );
    return config;
  }
  const host = (config: string): Host => ({ name: 'ca-host', transport: 'ssh', transportOptions: { sshConfig: config }, groups: [], roles: [], vars: {}, readonly: false });

  it('trusting only the CA (@cert-authority): refused before any command, saying ssh2 cannot check host certificates and naming the openssh transport', async () => {
    const kit = sshd.get();
    const config = await configWith([`@cert-authority [127.0.0.1]:${kit.port} ${(await readFile(`${ca}.pub`, 'utf8')).trim()}`]);
    const { context, warnings } = testContext();
    const mark = await kit.mark();
    const error = await rejection(connectHost(host(config), context));
    expect(isUnreachableError(error) && error.reason).toBe('host-key');
    expect(error.message).toMatch(/@cert-authority.*ssh2 cannot check host certificates.*transport 'openssh'/);
    expect(warnings.join('\n')).toMatch(/CertificateFile .*user_ed25519-cert\.pub.*cannot be used by ssh2.*transport 'openssh'/);
    expect(await kit.countsSince(mark)).toMatchObject({ execs: 0 });
  });

  it('with the plain host key known: authentication fails (ssh2 offers the key without its certificate), and the warning says why', async () => {
    const kit = sshd.get();
    const config = await configWith([`[127.0.0.1]:${kit.port} ${(await readFile(`${hostKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}`, '# plain key']);
    const { context, warnings } = testContext();
    const error = await rejection(connectHost(host(config), context));
    expect(isUnreachableError(error) && error.reason).toBe('auth');
    expect(warnings.join('\n')).toMatch(/CertificateFile .*cannot be used by ssh2.*transport 'openssh'/);
  });
});
