import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sshdForTests, type SshdForTests, type SshdKit } from './sshd.js';

/** ssh_config lines that pin a client to one key and one known_hosts file, nothing from the agent or the system. */
function pinnedClient(identityFile: string, knownHosts: string): string[] {
  return [`  IdentityFile ${identityFile}`, '  IdentitiesOnly yes', '  IdentityAgent none', `  UserKnownHostsFile ${knownHosts}`, '  GlobalKnownHostsFile /dev/null'];
}

export interface JumpChainForTests {
  /** One kit per name, first hop first, the target last. */
  readonly kits: readonly SshdForTests[];
  /** The ssh_config file where each host's block names only the hop before it (valid after `start`). */
  readonly config: () => string;
  readonly start: () => Promise<void>;
  readonly stop: () => Promise<void>;
}

/**
 * A ProxyJump chain of test hosts (`names`: hops first, the target last), one sshd each,
 * and an ssh_config in which each host's block names only the hop before it, so a client
 * must follow the chain hop by hop, as ssh does. One client key (the first kit's) is
 * authorized everywhere; one known_hosts holds every host key; strict checking.
 */
export function jumpChainForTests(names: readonly string[]): JumpChainForTests {
  const kits = names.map((name) => sshdForTests({ hosts: [name] }));
  let dir: string | undefined;
  let config: string | undefined;
  return {
    kits,
    config: () => {
      if (config === undefined) throw new Error('jumpChainForTests: not started; add beforeAll(chain.start)');
      return config;
    },
    start: async () => {
      await Promise.all(kits.map((kit) => kit.start()));
      const started: SshdKit[] = kits.map((kit) => kit.get());
      const [first] = started;
      if (!first) throw new Error('jumpChainForTests: name at least one host');
      dir = await mkdtemp(path.join(tmpdir(), 'fettle-jump-chain-'));
      const knownHosts = path.join(dir, 'known_hosts');
      let known = '';
      for (const kit of started) {
        known += await readFile(kit.knownHostsPath, 'utf8');
        if (kit !== first) await appendFile(path.join(kit.dir, 'authorized_keys'), `${first.clientPublicKey}\n`);
      }
      await writeFile(knownHosts, known);
      const blocks = started
        .map((kit, index) => [`Host ${names[index] ?? ''}`, '  HostName 127.0.0.1', `  Port ${kit.port}`, ...(index > 0 ? [`  ProxyJump ${names[index - 1] ?? ''}`] : [])])
        .reverse()
        .flat();
      config = path.join(dir, 'ssh_config');
      const all = ['Host *', `  User ${first.user}`, ...pinnedClient(first.clientKeyPath, knownHosts), '  StrictHostKeyChecking yes'];
      await writeFile(config, `${[...blocks, ...all].join('\n')}\n`);
    },
    stop: async () => {
      await Promise.all(kits.map((kit) => kit.stop()));
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestCertificates {
  /** Private folder holding the CA, the keys and their certificates. */
  readonly dir: string;
  /** The CA's private key; its public key is `${ca}.pub`. */
  readonly ca: string;
  /** The host key, with `${hostKey}-cert.pub` signed by the CA for 127.0.0.1. */
  readonly hostKey: string;
  /** The user key, with `${userKey}-cert.pub` signed by the CA for `user`. */
  readonly userKey: string;
  /** The login user the user certificate names (the current user). */
  readonly user: string;
  /** sshd_config lines: no authorized_keys, the CA instead, the host key and its certificate. */
  readonly sshdConfig: string;
  /** An ssh_config block `Host alias` logging in with the user key and its certificate, strict checking against `knownHosts`. */
  clientConfig(alias: string, port: number, knownHosts: string): string;
  remove(): void;
}

/**
 * A test CA with a host certificate for 127.0.0.1 and a user certificate for the current
 * user, both valid from five minutes ago for an hour. Synchronous, so a test can pass
 * `sshdConfig` to `sshdForTests` at describe time.
 */
export function makeTestCertificates(prefix = 'fettle-ca-'): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const keygen = (...args: string[]): void => void execFileSync('ssh-keygen', ['-q', ...args], { stdio: 'ignore' });
  const ca = path.join(dir, 'ca');
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'user_ed25519');
  keygen('-t', 'ed25519', '-N', '', '-C', 'fettle test CA', '-f', ca);
  keygen('-t', 'ed25519', '-N', '', '-f', hostKey);
  keygen('-t', 'ed25519', '-N', '', '-f', userKey);
  keygen('-s', ca, '-I', 'fettle-test-host', '-h', '-n', '127.0.0.1', '-V', '-5m:+1h', `${hostKey}.pub`);
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  keygen('-s', ca, '-I', 'fettle-test-user', '-n', user, '-V', '-5m:+1h', `${userKey}.pub`);
  return {
    dir,
    ca,
    hostKey,
    userKey,
    user,
    // Plain lines go before the kit's defaults and win.
    sshdConfig: [`AuthorizedKeysFile none`, `TrustedUserCAKeys ${ca}.pub`, `HostKey ${hostKey}`, `HostCertificate ${hostKey}-cert.pub`].join('\n'),
    clientConfig: (alias, port, knownHosts) =>
      `${[`Host ${alias}`, '  HostName 127.0.0.1', `  Port ${port}`, `  User ${user}`, ...pinnedClient(userKey, knownHosts), `  CertificateFile ${userKey}-cert.pub`, '  StrictHostKeyChecking yes'].join('\n')}\n`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
