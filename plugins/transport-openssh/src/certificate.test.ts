import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isUnreachableError, type Host } from '@fettle/core';
import { makeTestCertificates, sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, rejection } from './test-support.js';

/**
 * A host whose sshd accepts only user certificates signed by a test CA (no
 * authorized_keys at all) and presents a host certificate signed by the same CA;
 * the client trusts the CA through `@cert-authority` and has no plain host key. The
 * system ssh does all of it, so the openssh transport reaches the host.
 */
const certs = makeTestCertificates('fettle-openssh-ca-');
const { dir, userKey, user } = certs;

describe('a host reachable only with CA-signed certificates', () => {
  const sshd = sshdForTests({ hosts: ['node1'], extraConfig: certs.sshdConfig });
  let config: string;

  beforeAll(async () => {
    await sshd.start();
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'known_hosts');
    await writeFile(knownHosts, `@cert-authority [127.0.0.1]:${kit.port} ${(await readFile(`${certs.ca}.pub`, 'utf8')).trim()}\n`);
    config = path.join(dir, 'ssh_config');
    await writeFile(config, certs.clientConfig('ca-host', kit.port, knownHosts));
  });
  afterAll(async () => {
    await sshd.stop();
    certs.remove();
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
