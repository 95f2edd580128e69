import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { localFile, localFileChunks, writeFileAtomic } from './local-files.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fettle-local-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('copies a local file atomically in bounded chunks, with its mode', async () => {
  const source = path.join(dir, 'source.bin');
  writeFileSync(source, Buffer.from(Array.from({ length: 1024 * 1024 + 5 }, (_, i) => i % 251)));
  const file = await localFile(source);
  let largest = 0;
  for await (const chunk of localFileChunks(file)) largest = Math.max(largest, chunk.length);
  expect(largest).toBeLessThanOrEqual(256 * 1024);
  await writeFileAtomic(path.join(dir, 'copy.bin'), file, { mode: 0o600 });
  expect(readFileSync(path.join(dir, 'copy.bin')).equals(readFileSync(source))).toBe(true);
  expect(statSync(path.join(dir, 'copy.bin')).mode & 0o777).toBe(0o600);
});

it('refuses a local file that changed size since it was announced, leaving the target and no temp file', async () => {
  const source = path.join(dir, 'source.bin');
  writeFileSync(source, 'twelve bytes');
  const file = await localFile(source);
  writeFileSync(path.join(dir, 'copy.bin'), 'old');
  writeFileSync(source, 'now thirteen!');
  await expect(writeFileAtomic(path.join(dir, 'copy.bin'), file)).rejects.toThrow(/grew while it was being sent/);
  writeFileSync(source, 'short');
  await expect(writeFileAtomic(path.join(dir, 'copy.bin'), file)).rejects.toThrow(/shrank while it was being sent/);
  expect(readFileSync(path.join(dir, 'copy.bin'), 'utf8')).toBe('old');
  expect(readdirSync(dir).sort()).toEqual(['copy.bin', 'source.bin']);
});

it('localFile refuses what is not a regular file', async () => {
  await expect(localFile(dir)).rejects.toThrow(/not a regular file/);
});
