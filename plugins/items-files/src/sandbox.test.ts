import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runItems } from '@fettle/core';
import local from '@fettle/transport-local';
import { snapshotTree } from '@fettle/testkit';
import files from './index.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function folder(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** The same small tree at `base`: a folder with a file and a link, a folder to delete, a file to delete. */
function plant(base: string): void {
  mkdirSync(path.join(base, 'app'), { recursive: true });
  chmodSync(path.join(base, 'app'), 0o755);
  writeFileSync(path.join(base, 'app/conf'), 'real\n', { mode: 0o644 });
  symlinkSync('conf', path.join(base, 'app/link'));
  mkdirSync(path.join(base, 'gone'));
  writeFileSync(path.join(base, 'gone/keep'), 'x\n');
  writeFileSync(path.join(base, 'old.txt'), 'old\n');
}

describe('commands of the file items under a sandbox root', () => {
  it('touch only the sandbox: the very same paths outside it stay exactly as they were', async () => {
    // A real tree whose absolute paths the items name. Under the sandbox root they mean
    // <root><those paths>; a command that forgot the mapping would change or delete the real ones.
    const outside = folder('fettle-outside-');
    plant(outside);
    const root = folder('fettle-root-');
    const inside = path.join(root, outside);
    plant(inside);
    const before = snapshotTree(outside);

    const at = (p: string): string => path.posix.join(outside, p);
    const result = await runItems({
      plugins: [files, local],
      hostName: 'h',
      host: { transport: 'local', transportOptions: { root } },
      items: {
        [`directory:${at('app')}`]: { mode: '0700' }, // chmod
        [`file:${at('app/conf')}`]: { content: 'sandboxed\n', mode: '0600' }, // atomic write
        [`symlink:${at('app/link')}`]: { target: '/etc/passwd' }, // ln to a temp name, mv over
        [`directory:${at('gone')}`]: { delete: true }, // rm -rf
        [`file:${at('old.txt')}`]: { delete: true }, // rm -f
        [`directory:${at('new/deep')}`]: {}, // mkdir -p
      },
      mode: 'apply',
      siteDir: root,
    });
    expect(result.result.summary).toMatchObject({ changed: 6, failed: 0 });

    // Every change happened inside the sandbox…
    expect((lstatSync(path.join(inside, 'app')).mode & 0o7777).toString(8)).toBe('700');
    expect(readFileSync(path.join(inside, 'app/conf'), 'utf8')).toBe('sandboxed\n');
    expect(readlinkSync(path.join(inside, 'app/link'))).toBe('/etc/passwd'); // a link's target is stored as written
    expect(existsSync(path.join(inside, 'gone'))).toBe(false);
    expect(existsSync(path.join(inside, 'old.txt'))).toBe(false);
    expect(lstatSync(path.join(inside, 'new/deep')).isDirectory()).toBe(true);
    // …and nothing outside it changed: same entries, modes, contents, links and times.
    expect(snapshotTree(outside)).toEqual(before);
    expect(existsSync(path.join(outside, 'new'))).toBe(false);
  });
});
