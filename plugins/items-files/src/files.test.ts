import { chmodSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryHostStore, Registry, runSite, type ItemMap, type RunMode, type SiteConfig } from '@fettle/core';
import local from '@fettle/transport-local';
import files from './index.js';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function sandbox(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'fettle-files-'));
  roots.push(root);
  return root;
}

function site(root: string, items: ItemMap): SiteConfig {
  return {
    plugins: [files, local],
    hosts: new MemoryHostStore({ hosts: { h: { transport: 'local', transportOptions: { root } } }, defaultRoles: ['r'] }),
    roles: { r: () => items },
  };
}

async function run(config: SiteConfig, mode: RunMode = 'apply') {
  const result = await runSite({ site: config, siteDir: tmpdir(), registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode });
  return { result, items: Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item])) };
}

describe('file, directory and symlink on the local transport', () => {
  it('creates everything, then a second apply is a no-op with no write', async () => {
    const root = sandbox();
    const config = site(root, {
      'directory:/srv/app': { mode: '0750' },
      'file:/srv/app/config.ini': { content: 'a = 1\n', mode: '0640' },
      'file:/srv/app/blob.bin': { content: Buffer.from([0, 1, 2, 3]).toString('base64'), encoding: 'base64' },
      'symlink:/srv/app/current': { target: 'config.ini' },
    });
    const first = await run(config);
    expect(first.result.summary).toMatchObject({ changed: 4, failed: 0 });
    expect(readFileSync(path.join(root, 'srv/app/config.ini'), 'utf8')).toBe('a = 1\n');
    expect((lstatSync(path.join(root, 'srv/app/config.ini')).mode & 0o7777).toString(8)).toBe('640');
    expect((lstatSync(path.join(root, 'srv/app')).mode & 0o7777).toString(8)).toBe('750');
    expect([...readFileSync(path.join(root, 'srv/app/blob.bin'))]).toEqual([0, 1, 2, 3]);
    expect(readlinkSync(path.join(root, 'srv/app/current'))).toBe('config.ini');
    // The directory is created before what is inside it (implicit dependency).
    expect(first.result.hosts[0]?.items.map((i) => i.id)[0]).toBe('directory:/srv/app');

    const mtime = lstatSync(path.join(root, 'srv/app/config.ini')).mtimeMs;
    const second = await run(config);
    expect(second.result.summary).toMatchObject({ changed: 0, ok: 4, failed: 0 });
    expect(second.result.hosts[0]?.roundTrips).toMatchObject({ execs: 1, fileWrites: 0 });
    expect(lstatSync(path.join(root, 'srv/app/config.ini')).mtimeMs).toBe(mtime);
    // No temp files left behind.
    expect(readdirSync(path.join(root, 'srv/app')).filter((name) => name.includes('fettle'))).toEqual([]);
  });

  it('makes directories with their mode, special bits included, under an existing parent, under a missing one, and in place of a file', async () => {
    const root = sandbox();
    mkdirSync(path.join(root, 'srv'));
    writeFileSync(path.join(root, 'srv/was-a-file'), 'x\n');
    const config = site(root, {
      'directory:/srv/shared': { mode: '2775' },
      'directory:/srv/tmp': { mode: '1777' },
      'directory:/srv/private': { mode: '0700' },
      'directory:/srv/was-a-file': { mode: '0750' },
      'directory:/opt/deep/er': { mode: '0711' },
    });
    const first = await run(config);
    expect(first.result.summary).toMatchObject({ changed: 5, failed: 0 });
    const mode = (name: string): string => (lstatSync(path.join(root, name)).mode & 0o7777).toString(8);
    expect([mode('srv/shared'), mode('srv/tmp'), mode('srv/private'), mode('srv/was-a-file'), mode('opt/deep/er')]).toEqual(['2775', '1777', '700', '750', '711']);
    expect(lstatSync(path.join(root, 'srv/was-a-file')).isDirectory()).toBe(true);
    expect((await run(config)).result.summary).toMatchObject({ changed: 0, ok: 5 });
  });

  it('shows a unified diff for text and a hash line for binary; fixes mode alone without rewriting', async () => {
    const root = sandbox();
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'etc/motd'), 'hello\nold line\n');
    writeFileSync(path.join(root, 'etc/bin'), Buffer.from([0, 9, 9]));
    writeFileSync(path.join(root, 'etc/modeonly'), 'same\n');
    chmodSync(path.join(root, 'etc/modeonly'), 0o600);
    const config = site(root, {
      'file:/etc/motd': { content: 'hello\nnew line\n' },
      'file:/etc/bin': { content: Buffer.from([0, 1]).toString('base64'), encoding: 'base64' },
      'file:/etc/modeonly': { content: 'same\n', mode: '0644' },
    });
    const plan = await run(config, 'plan');
    expect(plan.items['file:/etc/motd']?.detail).toContain('-old line');
    expect(plan.items['file:/etc/motd']?.detail).toContain('+new line');
    expect(plan.items['file:/etc/bin']?.detail).toMatch(/^binary content: sha256 [0-9a-f]{64} → [0-9a-f]{64}$/);
    expect(plan.items['file:/etc/modeonly']?.diff).toEqual([{ key: 'mode', want: '0644', have: '0600' }]);
    expect(readFileSync(path.join(root, 'etc/motd'), 'utf8')).toBe('hello\nold line\n');

    const inode = lstatSync(path.join(root, 'etc/modeonly')).ino;
    const apply = await run(config);
    expect(apply.result.summary).toMatchObject({ changed: 3, failed: 0 });
    expect(readFileSync(path.join(root, 'etc/motd'), 'utf8')).toBe('hello\nnew line\n');
    expect(lstatSync(path.join(root, 'etc/modeonly')).ino).toBe(inode);
    expect((await run(config, 'verify')).result.summary.changed).toBe(0);
  });

  it('deletes what should not exist, and replaces a file in the way of a symlink', async () => {
    const root = sandbox();
    mkdirSync(path.join(root, 'd/gone'), { recursive: true });
    writeFileSync(path.join(root, 'd/old.txt'), 'x');
    writeFileSync(path.join(root, 'd/link'), 'a file in the way');
    const config = site(root, {
      'file:/d/old.txt': { delete: true },
      'directory:/d/gone': { delete: true },
      'symlink:/d/link': { target: '/etc/hostname' },
    });
    const result = await run(config);
    expect(result.result.summary).toMatchObject({ changed: 3, failed: 0 });
    expect(result.items['file:/d/old.txt']?.action).toBe('delete');
    expect(readlinkSync(path.join(root, 'd/link'))).toBe('/etc/hostname');
    expect(() => lstatSync(path.join(root, 'd/old.txt'))).toThrow();
    expect(() => lstatSync(path.join(root, 'd/gone'))).toThrow();
  });

  it('reports a failure clearly and leaves nothing half-written when the folder is not writable', async () => {
    const root = sandbox();
    const config = site(root, { 'file:/missing-parent/x.txt': { content: 'x' }, 'file:/ok.txt': { content: 'fine' } });
    const result = await run(config);
    expect(result.items['file:/missing-parent/x.txt']).toMatchObject({ status: 'failed' });
    expect(result.items['file:/missing-parent/x.txt']?.error).toMatch(/ENOENT|No such file/);
    expect(result.items['file:/ok.txt']?.status).toBe('changed');
    expect(readdirSync(root).sort()).toEqual(['ok.txt']);
  });

  it('text content (non-ASCII too) is written as its UTF-8 bytes and then verifies in its state; a change shows its diff', async () => {
    const root = sandbox();
    const text = 'héllo wörld ✓ \u{1F600}\nline 2\n';
    const cold = await run(site(root, { 'file:/t.txt': { content: text } }));
    expect(cold.items['file:/t.txt']?.status).toBe('changed');
    expect(readFileSync(path.join(root, 't.txt'))).toEqual(Buffer.from(text, 'utf8'));
    expect((await run(site(root, { 'file:/t.txt': { content: text } }), 'verify')).items['file:/t.txt']?.status).toBe('ok');
    const plan = await run(site(root, { 'file:/t.txt': { content: text.replace('line 2', 'línea 2') } }), 'plan');
    expect(plan.items['file:/t.txt']?.detail).toContain('+línea 2');
    expect(plan.items['file:/t.txt']?.detail).toContain('-line 2');
  });

  it('gathers the state of 100 files in one command', async () => {
    const root = sandbox();
    const items: Record<string, Record<string, unknown>> = { 'directory:/d': {} };
    for (let i = 1; i <= 100; i++) items[`file:/d/file${String(i).padStart(3, '0')}.txt`] = { content: `file ${i}\n` };
    const config = site(root, items);
    const cold = await run(config);
    expect(cold.result.summary).toMatchObject({ changed: 101, failed: 0 });
    // The local transport writes outside the batch: gather; take + mkdir (the files follow it, written
    // once it succeeded); confirm (+ the lock's release). O(1) whatever the file count.
    expect(cold.result.hosts[0]?.roundTrips.execs).toBe(3);
    const warm = await run(config, 'verify');
    expect(warm.result.summary).toMatchObject({ ok: 101, changed: 0 });
    expect(warm.result.hosts[0]?.roundTrips.execs).toBe(1);
  });
});
