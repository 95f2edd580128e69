import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isUnreachableError, type Host } from '@fettle/core';
import { makeTestCertificates, sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, rejection, testContext } from './test-support.js';

/**
 * The host of transport-openssh's certificate test: its sshd accepts only user
 * certificates signed by a test CA and presents a CA-signed host certificate. ssh2 has
 * neither user nor host certificates, so this transport cannot reach it; what matters
 * is that it says why, naming the setting and the transport that can.
 */
const certs = makeTestCertificates('fettle-ssh-ca-');
const { dir, ca, hostKey } = certs;

describe('ssh transport (ssh2) and a certificate-only host', () => {
  const sshd = sshdForTests({ hosts: ['node1'], extraConfig: certs.sshdConfig });
  beforeAll(sshd.start);
  afterAll(async () => {
    await sshd.stop();
    certs.remove();
  });

  async function configWith(knownHostsLines: string[]): Promise<string> {
    const kit = sshd.get();
    const knownHosts = path.join(dir, `known_hosts.${knownHostsLines.length}`);
    await writeFile(knownHosts, knownHostsLines.map((line) => `${line}\n`).join(''));
    const config = path.join(dir, `ssh_config.${knownHostsLines.length}`);
    await writeFile(config, certs.clientConfig('ca-host', kit.port, knownHosts));
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
