import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Transport } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection } from './test-support.js';

describe('ssh transport: files (writes as one tar stream per batch, reads over SFTP)', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  let transport: Transport;
  let root: string;
  beforeAll(async () => {
    await sshd.start();
    const kit = sshd.get();
    root = kit.hosts['node1']?.root ?? '';
    transport = await connectHost(kitHost(kit, { root }));
  });
  afterAll(async () => {
    await transport?.close();
    await sshd.stop();
  });

  const leftovers = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.includes('.fettle-'));

  it('writes atomically with content, mode and owner root, and reads it back', async () => {
    const file = path.join(root, 'motd');
    await transport.writeFile(file, 'hello\n', { mode: '0640', owner: 'root', group: 'root' });
    expect(await readFile(file, 'utf8')).toBe('hello\n');
    const info = await stat(file);
    expect(info.mode & 0o7777).toBe(0o640);
    expect([info.uid, info.gid]).toEqual([0, 0]);
    expect((await transport.readFile(file))?.toString()).toBe('hello\n');
    expect(await transport.stat(file)).toEqual({ type: 'file', size: 6, mode: '0640' });
    expect(await leftovers(root)).toEqual([]);
  });

  it('replaces an existing file and defaults the mode to 0644', async () => {
    const file = path.join(root, 'replace.txt');
    await writeFile(file, 'old content that is longer');
    await transport.writeFile(file, Buffer.from('new'));
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o7777).toBe(0o644);
  });

  it('sets owner and group by name or number (nobody:nogroup, 65534)', async () => {
    const byName = path.join(root, 'owned-by-name');
    const byNumber = path.join(root, 'owned-by-number');
    await transport.writeFile(byName, 'x', { owner: 'nobody', group: 'nogroup' });
    await transport.writeFile(byNumber, 'x', { owner: '65534' });
    const a = await stat(byName);
    const b = await stat(byNumber);
    expect([a.uid, a.gid]).toEqual([65534, 65534]);
    expect([b.uid, b.gid]).toEqual([65534, 0]); // group unchanged: the login user's
  });

  it('refuses an unknown owner, leaving nothing behind', async () => {
    const error = await rejection(transport.writeFile(path.join(root, 'never'), 'x', { owner: 'no-such-user-fettle' }));
    expect(error.message).toMatch(/cannot write .*never: no user named 'no-such-user-fettle'/);
    expect(await leftovers(root)).toEqual([]);
  });

  it('leaves no temp file when the write fails (missing folder, path is a folder)', async () => {
    expect((await rejection(transport.writeFile(path.join(root, 'missing', 'f'), 'x'))).message).toMatch(/cannot write .*missing\/f: missing parent directory/);
    expect(existsSync(path.join(root, 'missing'))).toBe(false); // tar never ran: it would have made the folder
    await mkdir(path.join(root, 'adir'), { recursive: true });
    expect((await rejection(transport.writeFile(path.join(root, 'adir'), 'x'))).message).toMatch(/cannot write/);
    expect(await leftovers(root)).toEqual([]);
    expect((await lstat(path.join(root, 'adir'))).isDirectory()).toBe(true);
  });

  it('streams a 5 MiB file in chunks', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 17);
    const file = path.join(root, 'big.bin');
    await transport.writeFile(file, data, { mode: '0600' });
    expect((await readFile(file)).equals(data)).toBe(true);
    expect((await transport.readFile(file))?.equals(data)).toBe(true);
  });

  it('stats files, folders and symlinks without following them; missing is null', async () => {
    await mkdir(path.join(root, 'sdir'), { recursive: true });
    await symlink('motd', path.join(root, 'link')).catch(() => undefined);
    expect(await transport.stat(path.join(root, 'sdir'))).toMatchObject({ type: 'directory' });
    expect(await transport.stat(path.join(root, 'link'))).toMatchObject({ type: 'symlink' });
    expect(await transport.stat(path.join(root, 'nothing-here'))).toBeNull();
    expect(await transport.readFile(path.join(root, 'nothing-here'))).toBeNull();
  });

  it('writes 100 files in ONE command: no SFTP session, no id lookup, nothing left behind', async () => {
    const kit = sshd.get();
    const own = await connectHost(kitHost(kit, { root }));
    const mark = await kit.mark();
    const dir = path.join(root, 'hundred');
    await mkdir(dir, { recursive: true });
    try {
      await Promise.all(Array.from({ length: 100 }, (_, i) => own.writeFile(path.join(dir, `f${i}`), `file ${i}\n`, { owner: 'root', group: 'root', mode: '0600' })));
    } finally {
      await own.close();
    }
    expect((await readdir(dir)).length).toBe(100);
    expect(await readFile(path.join(dir, 'f42'), 'utf8')).toBe('file 42\n');
    expect((await stat(path.join(dir, 'f7'))).mode & 0o7777).toBe(0o600);
    // The connection was opened before the mark: one exec carried the 100 files, owners and modes.
    expect(await kit.countsSince(mark)).toMatchObject({ execs: 1, sftp: 0 });
    expect(await leftovers(dir)).toEqual([]);
  });

  it('writes across folders and with long names in one command; a file whose target is a folder fails alone', async () => {
    const kit = sshd.get();
    const deep = path.join(root, 'a'.repeat(60), 'b'.repeat(60));
    const other = path.join(root, 'other');
    await mkdir(deep, { recursive: true });
    await mkdir(path.join(other, 'taken'), { recursive: true });
    const longName = `${'n'.repeat(120)}.conf`;
    const mark = await kit.mark();
    const results = await Promise.allSettled([
      transport.writeFile(path.join(deep, longName), 'long\n', { mode: '0640' }),
      transport.writeFile(path.join(other, 'one'), 'one\n'),
      transport.writeFile(path.join(other, 'taken'), 'never\n'),
      transport.writeFile(path.join(other, '.dot file'), 'dot\n', { mode: '4755' }),
    ]);
    expect(await kit.countsSince(mark)).toMatchObject({ execs: 1, sftp: 0 });
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const failed = results[2] as PromiseRejectedResult;
    expect(String(failed.reason)).toMatch(/cannot write .*other\/taken: .*directory/);
    expect(await readFile(path.join(deep, longName), 'utf8')).toBe('long\n');
    expect((await stat(path.join(deep, longName))).mode & 0o7777).toBe(0o640);
    expect(await readFile(path.join(other, '.dot file'), 'utf8')).toBe('dot\n');
    expect((await stat(path.join(other, '.dot file'))).mode & 0o7777).toBe(0o4755);
    expect((await lstat(path.join(other, 'taken'))).isDirectory()).toBe(true);
    expect([...(await leftovers(deep)), ...(await leftovers(other))]).toEqual([]);
  });

  it('a connection killed mid-write leaves old content or new, never partial; the next connection sweeps the temp folder', async () => {
    const kit = sshd.get();
    const stateDir = await mkdtemp(path.join(tmpdir(), 'fettle-state-'));
    const previous = process.env['FETTLE_STATE_DIR'];
    process.env['FETTLE_STATE_DIR'] = stateDir;
    const dir = path.join(root, 'killed');
    await mkdir(dir, { recursive: true });
    const names = Array.from({ length: 8 }, (_, i) => `big${i}`);
    for (const name of names) await writeFile(path.join(dir, name), `old ${name}\n`);
    const fresh = names.map(() => randomBytes(4 * 1024 * 1024));
    try {
      const own = await connectHost(kitHost(kit, { root }));
      let killed = 0;
      const watch = setInterval(() => {
        if (killed === 0 && (readdirSync(dir).some((name) => name.includes('.fettle-tmp-')))) killed = kit.killSessions();
      }, 1);
      const results = await Promise.allSettled(names.map((name, i) => own.writeFile(path.join(dir, name), fresh[i] as Buffer)));
      clearInterval(watch);
      await own.close();
      expect(killed).toBeGreaterThan(0);
      expect(results.every((result) => result.status === 'rejected')).toBe(true);
      for (const [i, name] of names.entries()) {
        const content = await readFile(path.join(dir, name));
        expect(content.equals(Buffer.from(`old ${name}\n`)) || content.equals(fresh[i] as Buffer), name).toBe(true);
      }
      // SIGKILL left the temp folder (no trap runs); the controller wrote it down…
      expect(await leftovers(dir)).not.toEqual([]);
      const next = await connectHost(kitHost(kit, { root }));
      try {
        await next.exec('true'); // …and the first command of the next connection removes it
      } finally {
        await next.close();
      }
      expect(await leftovers(dir)).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env['FETTLE_STATE_DIR'];
      else process.env['FETTLE_STATE_DIR'] = previous;
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
