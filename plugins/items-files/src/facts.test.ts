import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { factEnv } from '@fettle/core';
import { fileStat } from './facts.js';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A root holding /srv/app with files whose names need quoting, a link and a subfolder. */
function tree(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'fettle-stat-'));
  roots.push(root);
  mkdirSync(path.join(root, 'srv/app/sub'), { recursive: true });
  writeFileSync(path.join(root, 'srv/app/a.txt'), 'a\n');
  writeFileSync(path.join(root, "srv/app/it's here.txt"), 'quoted\n');
  writeFileSync(path.join(root, 'srv/app/sub/b $x.txt'), 'b\n');
  symlinkSync('a.txt', path.join(root, 'srv/app/link'));
  return root;
}

function gather(paths: string[], root: string, cwd?: string) {
  const env = factEnv(root);
  const command = fileStat.command(paths, env).text;
  const stdout = execFileSync('sh', ['-c', command], { encoding: 'utf8', cwd });
  // A copy of the list: the parse works out what was printed for each path without the command's.
  return { command, stdout, states: fileStat.parse(stdout, [...paths], env) };
}

describe('files.stat', () => {
  it('names a shared folder once (d=…) and reads the same state as whole paths would', () => {
    const root = tree();
    const paths = ['/srv/app', '/srv/app/a.txt', "/srv/app/it's here.txt", '/srv/app/sub/b $x.txt', '/srv/app/link', '/srv/app/missing'];
    const { command, states } = gather(paths, root);
    expect(command).toContain(`d=${root}/srv/app\n`);
    expect(command.split(`${root}/srv/app`).length - 1).toBe(1);
    expect(states.map((s) => s?.type ?? null)).toEqual(['directory', 'file', 'file', 'file', 'symlink', null]);
    expect(states[1]?.sha256).toBe('87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7');
    expect(states[4]?.target).toBe('a.txt');
    // The same paths one by one (no shared folder for one path): the same answers.
    const single = paths.map((p) => gather([p], root).states[0] ?? null);
    expect(single).toEqual(states);
    expect(gather([paths[1] as string], root).command).not.toContain('"$d"');
  });

  it('prints names under the shared folder, not the whole path three times per file', () => {
    const root = tree();
    const { stdout, states } = gather(['/srv/app/a.txt', "/srv/app/it's here.txt", '/srv/app/link', '/srv/app/sub/b $x.txt'], root);
    expect(stdout).not.toContain(`${root}/srv/app/a.txt`);
    expect(stdout).toContain('a.txt\0');
    expect(stdout).toContain('  sub/b $x.txt\0');
    expect(states.map((s) => s?.type ?? null)).toEqual(['file', 'file', 'symlink', 'file']);
  });

  it('asks for nothing under a folder it cannot enter (missing, or a file): never names relative to where the command started', () => {
    const root = tree();
    // Where the command starts holds files of the same names: they must not answer for the host's.
    const elsewhere = path.join(root, 'srv/app');
    const missing = gather(['/nope/a.txt', '/nope/link', '/nope/sub'], root, elsewhere);
    expect(missing.states).toEqual([null, null, null]);
    const file = gather(['/srv/app/a.txt', '/srv/app/a.txt/link', '/srv/app/a.txt/sub'], root, elsewhere);
    expect(file.states.map((s) => s?.type ?? null)).toEqual(['file', null, null]);
  });

  it('keeps whole paths when the paths share no folder but /', () => {
    const root = tree();
    const { command, states } = gather(['/srv/app/a.txt', '/etc-nope', '/srv/app/link'], root);
    expect(command).not.toContain('"$d"');
    expect(states.map((s) => s?.type ?? null)).toEqual(['file', null, 'symlink']);
  });
});
