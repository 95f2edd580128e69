import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { localFile, type LocalFile } from '@fettle/core';
import { tarPayload } from './tar.js';
import { tarWriter } from './tar-writes.js';
import { localRunner } from './test-runner.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fettle-stream-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = tarWriter(localRunner, { hostName: 'here' });

it('streams a local file into place, beside in-memory writes of the same batch', async () => {
  const source = path.join(dir, 'source.bin');
  writeFileSync(source, Buffer.alloc(3 * 1024 * 1024 + 17, 7));
  await Promise.all([write(path.join(dir, 'copy.bin'), await localFile(source), { mode: '0640' }), write(path.join(dir, 'small.txt'), 'small\n')]);
  expect(readFileSync(path.join(dir, 'copy.bin')).equals(readFileSync(source))).toBe(true);
  expect(readFileSync(path.join(dir, 'small.txt'), 'utf8')).toBe('small\n');
});

it.each([
  ['shrank', -1000, /shrank while it was being sent/],
  ['grew', +1000, /grew while it was being sent/],
])('a local file that %s after it was announced is not written, and nothing is left behind', async (_how, change, message) => {
  const source = path.join(dir, 'source.bin');
  writeFileSync(source, Buffer.alloc(2 * 1024 * 1024, 1));
  const announced: LocalFile = await localFile(source);
  writeFileSync(source, Buffer.alloc(2 * 1024 * 1024 + change, 2));
  writeFileSync(path.join(dir, 'copy.bin'), 'old\n');
  await expect(write(path.join(dir, 'copy.bin'), announced)).rejects.toThrow(message);
  expect(readFileSync(path.join(dir, 'copy.bin'), 'utf8')).toBe('old\n');
  expect(readdirSync(dir).sort()).toEqual(['copy.bin', 'source.bin']);
  expect(existsSync(path.join(dir, 'copy.bin'))).toBe(true);
});

it('a command that exits without reading its stream closes the local file (no handle left open)', async () => {
  const source = path.join(dir, 'source.bin');
  writeFileSync(source, Buffer.alloc(8 * 1024 * 1024, 3));
  const before = openHandles();
  const { stdin } = tarPayload([await localFile(source)]);
  const result = await localRunner('exit 0', stdin);
  expect(result.code).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(openHandles().filter((handle) => handle === source)).toEqual(before.filter((handle) => handle === source));
});

/** What this process has open, by path (Linux). */
function openHandles(): string[] {
  return readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
}
