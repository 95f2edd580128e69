import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Transport } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection } from './test-support.js';

describe('ssh transport: files over SFTP', () => {
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

  it('refuses an unknown owner before creating anything', async () => {
    const error = await rejection(transport.writeFile(path.join(root, 'never'), 'x', { owner: 'no-such-user-fettle' }));
    expect(error.message).toMatch(/no user named 'no-such-user-fettle'/);
    expect(await leftovers(root)).toEqual([]);
  });

  it('leaves no temp file when the write fails (missing folder, path is a folder)', async () => {
    expect((await rejection(transport.writeFile(path.join(root, 'missing', 'f'), 'x'))).message).toMatch(/cannot write .*missing\/f/);
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

  it('writes 100 files over one SFTP session and one id lookup', async () => {
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
    // The connection was opened before the mark; 1 SFTP session and 1 exec (owner/group → ids).
    expect(await kit.countsSince(mark)).toMatchObject({ execs: 1, sftp: 1 });
  });
});
