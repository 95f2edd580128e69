import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType } from '../protocols/item.js';
import { definePlugin } from '../protocols/plugin.js';
import { defineSite, type SiteConfig } from '../protocols/site.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { factEnv } from '../protocols/fact.js';
import { execSh } from '../test-support.js';
import { sandboxPlugin, tempRoot } from '../tasks/testing.js';
import { runSite } from './engine.js';
import { lockCovers, parseDuration, softLockAddCommand, type SoftLock } from './lock.js';

const roots: { remove: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await root.remove();
});

function site(root: string, fixed: string[], delay = 0): SiteConfig {
  const slow = defineItemType({
    name: 'slow',
    attributes: z.strictObject({}),
    cdict: () => ({ done: true }),
    sdict: () => Promise.resolve({ done: false }),
    fix: async (_change, item) => {
      fixed.push(item.id);
      await new Promise((resolve) => setTimeout(resolve, delay));
      return { done: true };
    },
  });
  return defineSite({
    plugins: [definePlugin({ name: 'slow', itemTypes: [slow] }), sandboxPlugin()],
    hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sandbox', transportOptions: { root } } }, defaultRoles: ['r'] }),
    roles: { r: () => ({ 'slow:a': { tags: ['web'] }, 'slow:b': {} }) },
  });
}

const run = async (config: SiteConfig, extra: Partial<Parameters<typeof runSite>[0]> = {}) =>
  runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode: 'apply', ...extra });

describe('host lock', () => {
  it('lets one of two concurrent applies work on a host; the other names the holder and changes nothing', async () => {
    const root = await tempRoot();
    roots.push(root);
    const first: string[] = [];
    const second: string[] = [];
    const warnings: string[] = [];
    const a = run(site(root.dir, first, 300), { lock: { comment: 'first run' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const b = await run(site(root.dir, second), { warn: (message) => warnings.push(message) });
    const done = await a;
    expect(done.hosts[0]?.status).toBe('changed');
    expect(second).toEqual([]);
    expect(b.hosts[0]).toMatchObject({ status: 'failed', reason: 'locked' });
    expect(b.hosts[0]?.error).toMatch(/^locked by .+@.+ since \d{4}-.*Z, pid \d+ \("first run"\), expires .*; not applied \(--force-lock overrides\)$/);
    expect(b.hosts[0]?.items.every((item) => item.status === 'skipped')).toBe(true);
    // Released at the end: a third apply takes it.
    expect(existsSync(path.join(root.dir, 'var/lib/fettle/lock'))).toBe(false);
    const third: string[] = [];
    expect((await run(site(root.dir, third))).hosts[0]?.status).toBe('changed');
  });

  it('takes over a live lock with --force-lock, with a warning', async () => {
    const root = await tempRoot();
    roots.push(root);
    const holder = JSON.stringify({ user: 'bob@elsewhere', started: Date.now(), pid: 1, comment: 'stuck', expires: Date.now() + 3600_000, token: 'x' });
    await execSh(`mkdir -p '${root.dir}/var/lib/fettle/lock' && printf '%s\\n' '${holder}' > '${root.dir}/var/lib/fettle/lock/holder'`);
    const fixed: string[] = [];
    expect((await run(site(root.dir, fixed))).hosts[0]?.error).toMatch(/locked by bob@elsewhere .*\("stuck"\)/);
    const warnings: string[] = [];
    const forced = await run(site(root.dir, fixed), { lock: { force: true }, warn: (message) => warnings.push(message) });
    expect(forced.hosts[0]?.status).toBe('changed');
    expect(warnings.join('\n')).toMatch(/h1: took over the lock held by bob@elsewhere/);
    expect(existsSync(path.join(root.dir, 'var/lib/fettle/lock'))).toBe(false);
  });

  it("skips items under another user's soft lock and says whose; own locks do not block", async () => {
    const root = await tempRoot();
    roots.push(root);
    const lock: SoftLock = { id: 'abc123', user: 'carol@laptop', started: Date.now(), pid: 7, comment: 'debugging', expires: Date.now() + 3600_000, items: ['tag:web'] };
    await execSh(softLockAddCommand(factEnv(root.dir), lock).text);
    const fixed: string[] = [];
    const result = await run(site(root.dir, fixed));
    const byId = Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(byId['slow:a']).toMatchObject({ status: 'skipped' });
    expect(byId['slow:a']?.reason).toMatch(/^soft-locked by carol@laptop .*\("debugging"\).*\(lock abc123\)$/);
    expect(byId['slow:b']).toMatchObject({ status: 'changed' });
    expect(fixed).toEqual(['slow:b']);

    process.env['FETTLE_USER'] = 'carol@laptop';
    try {
      const own: string[] = [];
      await run(site(root.dir, own));
      expect(own).toEqual(['slow:a', 'slow:b']);
    } finally {
      delete process.env['FETTLE_USER'];
    }
  });

  it('parses durations and matches item patterns', () => {
    expect(parseDuration('8h')).toBe(8 * 3600_000);
    expect(parseDuration('30s')).toBe(30_000);
    expect(() => parseDuration('soon')).toThrow(/bad duration/);
    const item = { id: 'file:/etc/nginx/nginx.conf', common: { tags: ['web'] } };
    expect(lockCovers('file:/etc/*', item)).toBe(true);
    expect(lockCovers('tag:web', item)).toBe(true);
    expect(lockCovers('tag:db', item)).toBe(false);
    expect(lockCovers('pkg_apt:*', item)).toBe(false);
    expect(lockCovers('*', item)).toBe(true);
  });
});
