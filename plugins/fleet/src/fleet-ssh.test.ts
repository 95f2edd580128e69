import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Host } from '@fettle/core';
import { authorizeKey, createAptTestRepo, createTestUser, grantNopasswdSudo, silentHost, sshdForTests, type SilentHost, type TestUser } from '@fettle/testkit';
import ssh from '@fettle/transport-ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, listUpdates, ping, syncRepos, type FleetOptions } from './fleet.js';
import type { HostReport } from './model.js';
import { exitCodeFor } from './summary.js';
import { registryConnect } from './test-helpers.js';

/**
 * The fleet commands over a real OpenSSH sshd (testkit): live hosts beside a host
 * that never answers, a closed port, a wrong host key and a refused key. The hosts
 * are this Debian machine, so apt is real.
 */

// sync-repos runs the real apt-get update against a private repository on this disk, never the
// network: the deploy user's sessions carry APT_CONFIG (sshd keeps the first SetEnv of a Match,
// so the kit's SHLVL=1 rides along) and sudo keeps it.
const aptRepo = createAptTestRepo(1);
const sshd = sshdForTests({ hosts: ['web1', 'web2'], extraConfig: `Match User fleetdeploy*\n  SetEnv APT_CONFIG=${aptRepo.env.APT_CONFIG} SHLVL=1` });
const dir = mkdtempSync(path.join(tmpdir(), 'fettle-fleet-ssh-'));
let silent: SilentHost;
let deploy: TestUser;
let plain: TestUser;
let revokeSudo: () => Promise<void>;
let closedPort: number;

beforeAll(async () => {
  await sshd.start();
  silent = await silentHost();
  closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const kit = sshd.get();
  deploy = await createTestUser('fleetdeploy');
  plain = await createTestUser('fleetplain');
  revokeSudo = await grantNopasswdSudo(deploy, { keepEnv: ['APT_CONFIG'] });
  await authorizeKey(deploy, kit.clientPublicKey);
  await authorizeKey(plain, kit.clientPublicKey);
});

afterAll(async () => {
  await revokeSudo?.();
  await deploy?.remove();
  aptRepo.remove();
  await plain?.remove();
  await silent?.close();
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sshHost(name: string, options: Record<string, unknown> = {}, extra: Partial<Host> = {}): Host {
  const kit = sshd.get();
  return {
    name,
    address: '127.0.0.1',
    port: kit.port,
    user: kit.user,
    transport: 'ssh',
    transportOptions: { identityFile: kit.clientKeyPath, knownHosts: kit.knownHostsPath, sshConfig: false, agent: false, connectTimeoutMs: 4000, ...options },
    groups: [],
    roles: [],
    vars: {},
    readonly: false,
    ...extra,
  };
}

/** Live hosts and every kind of unreachable one. */
function fleet(): Host[] {
  const kit = sshd.get();
  const wrongKnownHosts = path.join(dir, 'known_hosts.wrong');
  const otherKey = path.join(dir, 'other');
  if (!existsSync(otherKey)) {
    // A key the server does not know, also written to known_hosts as if it were the host's.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', otherKey]);
    writeFileSync(wrongKnownHosts, `[127.0.0.1]:${kit.port} ${readFileSync(`${otherKey}.pub`, 'utf8')}`);
  }
  return [
    sshHost('web1'),
    sshHost('web2'),
    sshHost('silent', { connectTimeoutMs: 1500 }, { port: silent.port }),
    sshHost('closed', {}, { port: closedPort }),
    sshHost('badkey', { knownHosts: wrongKnownHosts }),
    sshHost('badauth', { identityFile: otherKey }),
  ];
}

const byName = (reports: readonly HostReport[]) => Object.fromEntries(reports.map((r) => [r.name, r]));

describe('fleet over a real sshd', () => {
  const cachePath = path.join(dir, 'state.json');
  const options = (hosts: Host[]): FleetOptions => ({ hosts, connect: registryConnect([ssh]), cachePath, commandTimeoutMs: 300_000 });

  it('discover: one connection and one command per live host; each failure named; the others complete (exit 2)', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const report = await discover(options(fleet()));
    const r = byName(report.hosts);
    for (const name of ['web1', 'web2']) {
      expect(r[name], r[name]?.message ?? '').toMatchObject({ status: 'ok', online: true });
      expect(r[name]?.discovery).toMatchObject({ os: 'linux', flavor: 'debian', version: '12', packageManager: 'apt', uid: 0 });
    }
    expect(r['silent']).toMatchObject({ status: 'unreachable', reason: 'timeout' });
    expect(r['closed']).toMatchObject({ status: 'unreachable', reason: 'refused' });
    expect(r['badkey']).toMatchObject({ status: 'unreachable', reason: 'host-key' });
    expect(r['badauth']).toMatchObject({ status: 'unreachable', reason: 'auth' });
    expect(exitCodeFor(report)).toBe(2);
    // The host-key check refuses before authenticating; the wrong key never logs in.
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 2, execs: 2, sftp: 0, failedAuth: 1 });
  });

  it('ping: reachable and authenticated, or why not', async () => {
    const report = await ping(options(fleet()));
    const r = byName(report.hosts);
    expect(r['web1']?.status).toBe('ok');
    expect(r['web1']?.latencyMs).toBeGreaterThan(0);
    expect(r['badauth']?.message).toBeTruthy();
    expect(report.summary).toMatchObject({ ok: 2, unreachable: 4 });
    expect(exitCodeFor(report)).toBe(2);
  });

  it('updates: real apt over ssh, one command per host once discovered; a non-root login needs no sudo to list', async () => {
    const kit = sshd.get();
    const hosts = [...fleet(), sshHost('plain', {}, { user: plain.name })];
    // plain was never discovered: probe + list. web1, web2: list only.
    const mark = await kit.mark();
    const report = await listUpdates(options(hosts));
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 3, execs: 4 });
    const r = byName(report.hosts);
    const web1 = r['web1']?.updates;
    expect(web1?.packages.length).toBeGreaterThan(0);
    expect(web1?.packages.filter((p) => p.security).length).toBeGreaterThan(0);
    expect(r['web2']?.updates?.packages.length).toBe(web1?.packages.length);
    expect(r['plain']).toMatchObject({ status: 'ok' });
    expect(r['plain']?.discovery?.uid).not.toBe(0);
    expect(r['plain']?.updates?.packages.length).toBe(web1?.packages.length);
    expect(exitCodeFor(report)).toBe(2);

    // Fresh in the cache now: no connection at all for the live hosts.
    const again = await kit.mark();
    const cached = await listUpdates({ ...options(hosts.filter((h) => ['web1', 'web2', 'plain'].includes(h.name))), securityOnly: true });
    expect(await kit.countsSince(again)).toMatchObject({ connections: 0, execs: 0 });
    expect(cached.hosts.every((h) => h.source === 'cache' && h.updates?.packages.every((p) => p.security))).toBe(true);
    expect(exitCodeFor(cached)).toBe(0);
  });

  it('sync-repos: sudo -n apt-get update for a nopasswd login, skipped for a plain login under skip, dead hosts reported', async () => {
    const hosts = [
      sshHost('deploy', {}, { user: deploy.name, vars: { sudo_policy: 'nopasswd' } }),
      sshHost('plain', {}, { user: plain.name }),
      sshHost('plain-sudo', {}, { user: plain.name, vars: { sudo_policy: 'nopasswd' } }),
      ...fleet().filter((h) => h.name === 'silent'),
    ];
    const report = await syncRepos(options(hosts));
    const r = byName(report.hosts);
    expect(r['deploy'], r['deploy']?.message ?? '').toMatchObject({ status: 'ok' });
    expect(r['deploy']?.discovery?.uid).not.toBe(0);
    expect(aptRepo.synced()).toBe(true);
    expect(r['plain']).toMatchObject({ status: 'skipped' });
    expect(r['plain-sudo']).toMatchObject({ status: 'failed' });
    expect(r['plain-sudo']?.message).toMatch(/sudo: a password is required/);
    expect(r['silent']).toMatchObject({ status: 'unreachable', reason: 'timeout' });
    expect(exitCodeFor(report)).toBe(2);
  });
});
