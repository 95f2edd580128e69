import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecResult } from '@fettle/core';
import { afterAll, expect, it } from 'vitest';
import { Leftovers, sweepingFirst } from './leftovers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fettle-leftovers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a command with the machine's own sh, as a host would. */
const sh = (command: string): Promise<ExecResult> => {
  const result = spawnSync('sh', ['-c', command]);
  return Promise.resolve({ code: result.status, stdout: result.stdout, stderr: result.stderr });
};

it("the next connection's first command removes what a lost one left, and only fettle's own temp names", async () => {
  const host = path.join(dir, 'host');
  const state = path.join(dir, 'state');
  const temp = path.join(host, 'etc', '.files.fettle-tmp-0a1b2c3d');
  const other = path.join(host, 'etc', 'not-ours');
  mkdirSync(temp, { recursive: true });
  writeFileSync(path.join(temp, 'half-written.conf'), 'partial');
  mkdirSync(other);

  // The lost run records its temp folder (and, wrongly, a path that is not fettle's).
  const lost = new Leftovers('root@web1_22', state);
  lost.add(temp);
  lost.add(other);

  const next = new Leftovers('root@web1_22', state);
  const commands: string[] = [];
  const run = sweepingFirst(next, (command: string) => {
    commands.push(command);
    return sh(command);
  });
  expect((await run('echo first')).stdout.toString()).toBe('first\n');
  expect(existsSync(temp)).toBe(false);
  expect(existsSync(other)).toBe(true);
  await run('echo second');
  expect(commands[1]).toBe('echo second');
  // Swept means forgotten: a third connection carries nothing.
  expect(readdirSync(path.join(state, 'leftovers'))).toEqual([]);
  const third: string[] = [];
  await sweepingFirst(new Leftovers('root@web1_22', state), (command: string) => {
    third.push(command);
    return sh(command);
  })('true');
  expect(third).toEqual(['true']);
});

it('a connection with nothing left over rewrites no file after its first command, and keeps what another run records meanwhile', async () => {
  const state = path.join(dir, 'state-empty');
  const leftovers = new Leftovers('root@web2_22', state);
  // What a concurrent run records meanwhile is still there afterwards.
  const other = new Leftovers('root@web2_22', state);
  other.add('/srv/.x.fettle-tmp-00ff');
  const file = path.join(state, 'leftovers', 'root@web2_22');
  const before = statSync(file);
  const run = sweepingFirst(leftovers, sh);
  expect((await run('echo first')).stdout.toString()).toBe('first\n');
  // Not rewritten (a rewrite is a new file renamed into place: a new inode).
  expect(readdirSync(path.join(state, 'leftovers'))).toEqual(['root@web2_22']);
  expect(statSync(file).ino).toBe(before.ino);
  const later = new Leftovers('root@web2_22', state);
  expect(later.takeSweep().prefix).toBe("rm -rf -- /srv/.x.fettle-tmp-00ff 2>/dev/null; ");
});
