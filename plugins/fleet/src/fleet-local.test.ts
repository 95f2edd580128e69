import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discover, listUpdates, ping, syncRepos, cachedReport, type FleetOptions } from './fleet.js';
import type { HostReport } from './model.js';
import { parseAptSimulation } from './providers/apt.js';
import { createAptTestRepo } from '@fettle/testkit';
import { exitCodeFor } from './summary.js';
import { countingConnect, faultyConnect, host, registryConnect } from './test-helpers.js';

/**
 * The fleet operations on this machine through the local transport: the real apt
 * of this Debian 12 host, a non-root login (runuser nobody) for the sudo policy,
 * and two hosts that cannot be reached (simulated here; over a real sshd in
 * fleet-ssh.test.ts).
 */

const dir = mkdtempSync(path.join(tmpdir(), 'fettle-fleet-local-'));
// sync-repos runs the real apt-get update against a private repository on this disk, never the network.
const aptRepo = createAptTestRepo(1);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  aptRepo.remove();
});

const hosts = [
  host('local1'),
  host('local2', 'local', {}, { sudo_policy: 'nopasswd' }),
  host('nobody-skip', 'local', {}, { secret_token: 'do-not-cache-me' }),
  host('nobody-sudo', 'local', {}, { sudo_policy: 'nopasswd' }),
  host('dead'),
  host('badkey'),
];
const { connect, counts } = countingConnect(faultyConnect(registryConnect(), { dead: 'timeout', badkey: 'host-key' }), {
  'nobody-skip': 'nobody',
  'nobody-sudo': 'nobody',
});

let clock = new Date('2026-03-01T08:00:00.000Z');
const base = (cachePath: string): FleetOptions => ({ hosts, connect, cachePath, now: () => clock, concurrency: 4, commandTimeoutMs: 300_000 });
const byName = (reports: readonly HostReport[]) => Object.fromEntries(reports.map((r) => [r.name, r]));
const execsOf = (name: string): number => counts.execs.get(name)?.length ?? 0;

/** Holds apt's lists lock (fcntl, as apt takes it) for 5 s. */
const LOCK_HOLDER = `import fcntl, time; f = open(${JSON.stringify(aptRepo.listsLock)}, 'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(5)`;

/** What apt itself says right now, to compare with what the fleet reports. */
function aptNow() {
  return parseAptSimulation(execFileSync('apt-get', ['-s', '-q', '-o', 'Debug::NoLocking=1', 'dist-upgrade'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }));
}

describe('fleet operations on the local machine', () => {
  const cachePath = path.join(dir, '.fettle', 'state.json');

  it('discover: one command per live host, unreachable hosts named with their reason, exit 2', async () => {
    const finished: string[] = [];
    const report = await discover({ ...base(cachePath), onHost: (r, p) => finished.push(`${p.done}/${p.total} ${r.name}`) });
    const r = byName(report.hosts);
    expect(r['local1']).toMatchObject({ status: 'ok', source: 'live', online: true });
    expect(r['local1']?.discovery).toMatchObject({ os: 'linux', flavor: 'debian', version: '12', packageManager: 'apt', uid: 0, sudo: true });
    expect(r['local1']?.discovery?.arch).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    expect(r['nobody-skip']?.discovery?.uid).toBe(65534);
    expect(r['dead']).toMatchObject({ status: 'unreachable', reason: 'timeout', online: false });
    expect(r['badkey']).toMatchObject({ status: 'unreachable', reason: 'host-key' });
    expect(report.summary).toMatchObject({ hosts: 6, ok: 4, unreachable: 2 });
    expect(exitCodeFor(report)).toBe(2);
    expect(finished).toHaveLength(6);
    expect(finished.map((f) => f.split(' ')[0])).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
    for (const name of ['local1', 'local2', 'nobody-skip', 'nobody-sudo']) expect(execsOf(name)).toBe(1);
    // The cache holds what was learned, and no host var.
    const text = readFileSync(cachePath, 'utf8');
    expect(text).toContain('"packageManager": "apt"');
    expect(text).not.toContain('do-not-cache-me');
  });

  it('discover again: fresh hosts come from the cache without a connection; failed ones are retried', async () => {
    clock = new Date(clock.getTime() + 3600_000);
    const before = new Map(counts.connects);
    const report = await discover(base(cachePath));
    const r = byName(report.hosts);
    expect(r['local1']).toMatchObject({ status: 'ok', source: 'cache' });
    expect(counts.connects.get('local1')).toBe(before.get('local1'));
    expect(counts.connects.get('dead')).toBe((before.get('dead') ?? 0) + 1);
    expect(r['dead']?.source).toBe('live');
    // --refresh asks everyone.
    await discover({ ...base(cachePath), refresh: true, hosts: [host('local1')] });
    expect(counts.connects.get('local1')).toBe((before.get('local1') ?? 0) + 1);
  });

  it('ping: reachable and authenticated with a latency, or the reason', async () => {
    const report = await ping(base(cachePath));
    const r = byName(report.hosts);
    expect(r['local1']?.status).toBe('ok');
    expect(r['local1']?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r['badkey']).toMatchObject({ status: 'unreachable', reason: 'host-key', message: 'badkey: simulated host-key' });
    expect(exitCodeFor(report)).toBe(2);
  });

  it("updates: the real apt's pending updates, security marked; then from the cache", async () => {
    const before = execsOf('local1');
    const report = await listUpdates(base(cachePath));
    const expected = aptNow();
    const r = byName(report.hosts);
    const local = r['local1'];
    expect(local).toMatchObject({ status: 'ok', stale: false, source: 'live' });
    expect(local?.updates?.packages.map((p) => p.name).sort()).toEqual(expected.map((p) => p.name).sort());
    expect(local?.updates?.packages.filter((p) => p.security).length).toBe(expected.filter((p) => p.security).length);
    expect(local?.updates?.rebootRequired).toBe(existsSync('/var/run/reboot-required'));
    // Discovery was cached and fresh: listing updates took exactly one more command.
    expect(execsOf('local1')).toBe(before + 1);
    // Not root and policy skip: listing needs no root, so it works as nobody too.
    expect(r['nobody-skip']?.updates?.packages.length).toBe(expected.length);
    expect(report.summary.security).toBe(expected.filter((p) => p.security).length * 4);
    expect(exitCodeFor(report)).toBe(2);

    const cached = await listUpdates({ ...base(cachePath), securityOnly: true });
    expect(execsOf('local1')).toBe(before + 1);
    const again = byName(cached.hosts)['local1'];
    expect(again?.source).toBe('cache');
    expect(again?.updates?.packages.every((p) => p.security)).toBe(true);
    expect(again?.updates?.packages.length).toBe(expected.filter((p) => p.security).length);
  });

  it('updates: stale after the threshold with an injected clock, then refreshed', async () => {
    clock = new Date(clock.getTime() + 2 * 3600_000);
    const report = await cachedReport({ hosts, cachePath, now: () => clock, staleAfterMs: 3600_000 });
    expect(byName(report.hosts)['local1']).toMatchObject({ stale: true, status: 'ok' });
    expect(byName(report.hosts)['dead']).toMatchObject({ stale: true, status: 'unreachable', reason: 'timeout' });
    const before = execsOf('local1');
    const refreshed = await listUpdates({ ...base(cachePath), hosts: [host('local1')], staleAfterMs: 3600_000 });
    expect(refreshed.hosts[0]).toMatchObject({ source: 'live', stale: false });
    // Discovery was stale too: probe + updates.
    expect(execsOf('local1')).toBe(before + 2);
  });

  it('sync-repos: the real apt-get update as root; skipped or refused for a non-root login; updates turn stale', async () => {
    clock = new Date(clock.getTime() + 60_000);
    // Another apt holds the lists lock for a few seconds: the sync waits for it instead of failing.
    const holder = spawn('python3', ['-c', LOCK_HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    // apt-get update runs once in this file, bounded by commandTimeoutMs; the local transport's
    // commands inherit APT_CONFIG, which points apt at the private repository.
    process.env['APT_CONFIG'] = aptRepo.env.APT_CONFIG;
    const report = await syncRepos({ ...base(cachePath), hosts: hosts.filter((h) => h.name !== 'local2'), commandTimeoutMs: 240_000 }).finally(() => {
      delete process.env['APT_CONFIG'];
    });
    holder.kill();
    expect(aptRepo.synced()).toBe(true);
    const r = byName(report.hosts);
    expect(r['local1'], r['local1']?.message ?? '').toMatchObject({ status: 'ok', stale: true });
    expect(r['local1']?.durationMs).toBeGreaterThan(4000);
    expect(r['nobody-skip']).toMatchObject({ status: 'skipped' });
    expect(r['nobody-skip']?.message).toMatch(/needs root and sudo_policy is skip/);
    expect(r['nobody-sudo']).toMatchObject({ status: 'failed' });
    expect(r['nobody-sudo']?.message).toMatch(/sudo: a password is required/);
    expect(r['dead']?.status).toBe('unreachable');
    expect(exitCodeFor(report)).toBe(2);
    const commands = counts.execs.get('nobody-sudo') ?? [];
    expect(commands.length).toBeGreaterThan(0);
    const cache = JSON.parse(readFileSync(cachePath, 'utf8')) as { hosts: Record<string, { reposSyncedAt: string | null; lastError: unknown }> };
    expect(cache.hosts['local1']?.reposSyncedAt).toBe(clock.toJSON());
    expect(cache.hosts['nobody-sudo']?.lastError).toMatchObject({ status: 'failed' });
  });

  it('a bad sudo_policy fails that host only, before contacting it', async () => {
    const before = counts.connects.get('local1') ?? 0;
    const report = await listUpdates({ ...base(cachePath), refresh: true, hosts: [host('local1', 'local', {}, { sudo_policy: 'sometimes' }), hosts[1] ?? host('x')] });
    expect(report.hosts[0]).toMatchObject({ status: 'failed', message: expect.stringMatching(/sudo_policy must be/) as unknown });
    expect(report.hosts[1]?.status).toBe('ok');
    expect(counts.connects.get('local1')).toBe(before);
    expect(exitCodeFor(report)).toBe(2);
  });
});
