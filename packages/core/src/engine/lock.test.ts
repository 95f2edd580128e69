import path from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType } from '../protocols/item.js';
import { sh } from '../protocols/shell.js';
import { definePlugin } from '../protocols/plugin.js';
import { defineSite, type SiteConfig } from '../protocols/site.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { factEnv } from '../protocols/fact.js';
import { execSh } from '../test-support.js';
import { sandboxPlugin, tempRoot } from '../tasks/testing.js';
import { runSite } from './engine.js';
import { lockCovers, newHolder, parseDuration, parseTakeOutput, softLockAddCommand, takeLockCommand, unlockCommand, type SoftLock } from './lock.js';

const roots: { remove: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await root.remove();
});

/** A live hard lock of another user, as another controller's take leaves it. */
function livelock(root: string): void {
  const holder = { user: 'bob@elsewhere', started: Date.now(), pid: 1, comment: 'racing', expires: Date.now() + 3600_000, token: 'x' };
  mkdirSync(path.join(root, 'var/lib/fettle/lock'), { recursive: true });
  writeFileSync(path.join(root, 'var/lib/fettle/lock/holder'), `${JSON.stringify(holder)}\n`);
}

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

  /**
   * The take rides at the head of the first fix batch as its guard. A host locked
   * between the probe and the take (here: while the differences are described), or
   * whose lock folder cannot be made, runs none of the batch's fixes and gets no write.
   */
  it.each([
    ['locked by someone else after the probe', (root: string) => livelock(root), /^locked by bob@elsewhere since .*\("racing"\).*; not applied \(--force-lock overrides\)$/],
    ['whose lock folder cannot be made', (root: string) => writeFileSync(path.join(root, 'var/lib/fettle'), 'not a folder\n'), /^cannot take the host lock: /],
  ])('refuses a host %s: no fix command runs, no file is written', async (_case, spoil, error) => {
    const root = await tempRoot();
    roots.push(root);
    mkdirSync(path.join(root.dir, 'var/lib'), { recursive: true });
    let spoiling = true;
    const execs = new Map<string, number>();
    const racing = defineItemType({
      name: 'racing',
      attributes: z.strictObject({ write: z.boolean().default(false) }),
      cdict: () => ({ done: true }),
      sdict: () => Promise.resolve({ done: false }),
      // Runs after the first batch (gather + lock probe) and before any fix.
      diffDetail: (_change, item) => {
        if (!item.attrs.write && spoiling) spoil(root.dir);
        return Promise.resolve(undefined);
      },
      fix: async (_change, item, context) => {
        if (item.attrs.write) await context.writeFile(`/written/${item.name}`, 'data\n');
        else {
          await Promise.all([
            context.runChecked(sh`touch ${context.hostPath(`/ran-${item.name}`)}`),
            // A command with its own deadline runs alone: after the take too, and not when it failed.
            context.runChecked(sh`touch ${context.hostPath(`/timed-${item.name}`)}`, { timeoutMs: 10_000 }),
          ]);
        }
        return { done: true };
      },
    });
    const config = defineSite({
      plugins: [definePlugin({ name: 'racing', itemTypes: [racing] }), sandboxPlugin(execs)],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sandbox', transportOptions: { root: root.dir } } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'racing:a': {}, 'racing:b': { write: true } }) },
    });
    const result = await run(config);
    expect(result.hosts[0]).toMatchObject({ status: 'failed', reason: 'locked' });
    expect(result.hosts[0]?.error).toMatch(error);
    expect(result.hosts[0]?.items.map((item) => [item.id, item.status])).toEqual([
      ['racing:a', 'skipped'],
      ['racing:b', 'skipped'],
    ]);
    expect(existsSync(path.join(root.dir, 'ran-a'))).toBe(false);
    expect(existsSync(path.join(root.dir, 'timed-a'))).toBe(false);
    expect(existsSync(path.join(root.dir, 'written'))).toBe(false);
    expect(execs.get('h1')).toBe(2); // gather + probe; the take with the fixes it guards

    // Unspoilt: gather + probe; take + fixes; the timed command; the release. The take costs no command of its own.
    await execSh(`rm -rf '${root.dir}/var/lib/fettle'`);
    spoiling = false;
    execs.clear();
    expect((await run(config)).hosts[0]?.status).toBe('changed');
    expect(existsSync(path.join(root.dir, 'ran-a'))).toBe(true);
    expect(existsSync(path.join(root.dir, 'timed-a'))).toBe(true);
    expect(existsSync(path.join(root.dir, 'written/b'))).toBe(true);
    expect(execs.get('h1')).toBe(4); // + the command with its own deadline
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

  it('takes a free lock with the record in place, refuses a live one, releases only its own, and leaves no lock whose record it could not write', async () => {
    const root = await tempRoot();
    roots.push(root);
    const env = factEnv(root.dir);
    const mine = newHolder('mine');
    const taken = await execSh(takeLockCommand(env, mine, false).text);
    expect(taken.code).toBe(0);
    expect(parseTakeOutput(taken.stdout.toString())).toEqual({ taken: true, overridden: undefined });
    const lockDir = path.join(root.dir, 'var/lib/fettle/lock');
    expect(readdirSync(lockDir)).toEqual(['holder']);
    expect(JSON.parse(readFileSync(path.join(lockDir, 'holder'), 'utf8'))).toMatchObject({ token: mine.token, comment: 'mine' });

    const refused = await execSh(takeLockCommand(env, newHolder('other'), false).text);
    expect(refused.code).toBe(3);
    expect(parseTakeOutput(refused.stdout.toString())).toMatchObject({ taken: false, holder: { comment: 'mine' } });
    // Someone else's token releases nothing; ours removes the lock and the state folders it made.
    expect((await execSh(unlockCommand(env, 'not-ours').text)).code).toBe(0);
    expect(existsSync(path.join(lockDir, 'holder'))).toBe(true);
    expect((await execSh(unlockCommand(env, mine.token).text)).code).toBe(0);
    expect(existsSync(path.join(root.dir, 'var'))).toBe(false);

    // A file system with inodes for the folders but none for the record: the take fails and takes nothing.
    const small = mkdtempSync(path.join(os.tmpdir(), 'fettle-lock-inodes-'));
    expect((await execSh(`mount -t tmpfs -o size=1m,nr_inodes=5 tmpfs '${small}'`)).code).toBe(0);
    try {
      const failed = await execSh(takeLockCommand(factEnv(small), newHolder(), false).text);
      expect(failed.code).toBe(1);
      expect(failed.stderr.toString()).toMatch(/No space left on device/);
      // The folders were made (the lock too, then removed): it was the record that failed.
      expect(existsSync(path.join(small, 'var/lib/fettle'))).toBe(true);
      expect(existsSync(path.join(small, 'var/lib/fettle/lock'))).toBe(false);
    } finally {
      await execSh(`umount '${small}'`);
      rmSync(small, { recursive: true, force: true });
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
