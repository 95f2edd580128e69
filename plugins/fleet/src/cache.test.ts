import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CACHE_SCHEMA_VERSION, StateCache, discoveryStale, emptyEntry, updatesStale, type CacheEntry } from './cache.js';
import { migrate } from './migrations.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function cacheFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fettle-fleet-cache-'));
  dirs.push(dir);
  return path.join(dir, '.fettle', 'state.json');
}

const T0 = new Date('2026-01-10T12:00:00.000Z');
const at = (hours: number): Date => new Date(T0.getTime() + hours * 3600_000);
const DAY = 24 * 3600_000;

const updates = (refreshedAt: Date): CacheEntry['updates'] => ({
  refreshedAt: refreshedAt.toJSON(),
  packages: [{ name: 'curl', arch: 'amd64', currentVersion: '1', newVersion: '2', source: 'Debian-Security:12/stable-security', security: true }],
  rebootRequired: false,
  securityChecked: true,
});

describe('state cache', () => {
  it('starts empty, saves atomically with a schemaVersion, and reopens with the same data', async () => {
    const file = cacheFile();
    const first = await StateCache.open({ path: file, now: () => T0 });
    expect(first.hostNames).toEqual([]);
    first.set('web1', (e) => ({ ...e, online: true, lastSeen: T0.toJSON(), lastAttempt: T0.toJSON(), updates: updates(T0) }));
    await first.save();
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { schemaVersion: number; savedAt: string };
    expect(raw).toMatchObject({ schemaVersion: CACHE_SCHEMA_VERSION, savedAt: T0.toJSON() });
    // Temp files are renamed into place, never left behind.
    expect(readdirSync(path.dirname(file))).toEqual(['state.json']);

    const second = await StateCache.open({ path: file, now: () => at(1) });
    expect(second.get('web1')).toEqual({ ...emptyEntry(), online: true, lastSeen: T0.toJSON(), lastAttempt: T0.toJSON(), updates: updates(T0) });
  });

  it('marks data stale after the threshold, and updates stale after a repo sync', () => {
    const entry: CacheEntry = {
      ...emptyEntry(),
      updates: updates(T0),
      discovery: { os: 'linux', flavor: 'debian', version: '12', name: null, kernel: 'k', arch: 'x86_64', packageManager: 'apt', uid: 0, sudo: true, discoveredAt: T0.toJSON() },
    };
    expect(updatesStale(entry, at(23), DAY)).toBe(false);
    expect(updatesStale(entry, at(25), DAY)).toBe(true);
    expect(updatesStale(entry, at(2), 3600_000)).toBe(true);
    expect(discoveryStale(entry, at(23), DAY)).toBe(false);
    expect(discoveryStale(entry, at(25), DAY)).toBe(true);
    expect(updatesStale({ ...entry, reposSyncedAt: at(1).toJSON() }, at(2), DAY)).toBe(true);
    expect(updatesStale(undefined, T0, DAY)).toBe(true);
  });

  it('reports a corrupt file by name, keeps it aside and rebuilds', async () => {
    for (const bad of ['{"schemaVersion": 2, "hosts": {', '{"schemaVersion": 2, "savedAt": "x", "hosts": {"a": {"online": "yes"}}}', '[]']) {
      const file = cacheFile();
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, bad);
      const warnings: string[] = [];
      const cache = await StateCache.open({ path: file, now: () => T0, warn: (m) => warnings.push(m) });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`state cache ${file} is corrupt`);
      expect(cache.hostNames).toEqual([]);
      cache.set('web1', (e) => ({ ...e, online: false, lastAttempt: T0.toJSON() }));
      await cache.save();
      const names = readdirSync(path.dirname(file)).sort();
      expect(names).toEqual(['state.json', `state.json.corrupt-${T0.toJSON().replace(/[:.]/g, '-')}`]);
      expect(readFileSync(path.join(path.dirname(file), names[1] ?? ''), 'utf8')).toBe(bad);
      expect((await StateCache.open({ path: file })).get('web1')?.online).toBe(false);
    }
  });

  it('migrates a version 1 file, and leaves a newer one untouched', async () => {
    const file = cacheFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const v1 = {
      version: 1,
      hosts: {
        old1: {
          online: true,
          os: 'linux',
          flavor: 'debian',
          version: '11',
          packageManager: 'apt',
          lastRefresh: T0.toJSON(),
          updates: [{ name: 'curl', current: '1', new: '2', source: 'Debian-Security:11/stable-security', security: true }],
        },
      },
    };
    writeFileSync(file, JSON.stringify(v1));
    const warnings: string[] = [];
    const cache = await StateCache.open({ path: file, now: () => at(1), warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(cache.get('old1')).toMatchObject({ online: true, discovery: null, updates: { refreshedAt: T0.toJSON(), packages: [{ name: 'curl', security: true }] } });
    cache.set('old1', (e) => e);
    await cache.save();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ schemaVersion: 2 });

    const newer = JSON.stringify({ schemaVersion: 99, hosts: {} });
    writeFileSync(file, newer);
    const future = await StateCache.open({ path: file, warn: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/schemaVersion 99, newer than this fettle knows/);
    future.set('x', (e) => e);
    await future.save();
    expect(readFileSync(file, 'utf8')).toBe(newer);
    expect(() => migrate({ hosts: {} }, 2)).toThrow(/no schemaVersion/);
  });

  it('keeps hosts another run saved meanwhile (it writes only the hosts it changed)', async () => {
    const file = cacheFile();
    const a = await StateCache.open({ path: file, now: () => T0 });
    const b = await StateCache.open({ path: file, now: () => T0 });
    a.set('web1', (e) => ({ ...e, online: true }));
    b.set('db1', (e) => ({ ...e, online: false }));
    await a.save();
    await b.save();
    expect((await StateCache.open({ path: file })).hostNames).toEqual(['db1', 'web1']);
  });

  it('saveSoon writes once for many calls, without waiting for save()', async () => {
    const file = cacheFile();
    const cache = await StateCache.open({ path: file, now: () => T0 });
    const errors: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      cache.set(`h${i}`, (e) => ({ ...e, online: true }));
      cache.saveSoon(50, (error) => errors.push(error));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(errors).toEqual([]);
    expect((await StateCache.open({ path: file })).hostNames).toHaveLength(20);
  });

  it('writes only known fields, so nothing else (a secret, say) can reach the file', async () => {
    const file = cacheFile();
    const cache = await StateCache.open({ path: file, now: () => T0 });
    expect(() => cache.set('web1', (e) => ({ ...e, password: 'hunter2' }) as CacheEntry)).toThrow();
    await cache.save();
    expect(() => readFileSync(file, 'utf8')).toThrow(); // nothing was accepted, nothing written
  });
});
