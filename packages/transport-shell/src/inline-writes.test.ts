import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecResult } from '@fettle/core';
import type { Payload } from './tar.js';
import { tarWriter } from './tar-writes.js';
import { localRunner } from './test-runner.js';

/** Runs the writer's commands through a local `sh` (localRunner), and notes each command. */
function recordingRunner(commands: { command: string; stdin: Buffer | undefined }[]) {
  return (command: string, stdin?: Payload): Promise<ExecResult> => {
    commands.push({ command, stdin: Buffer.isBuffer(stdin) ? stdin : undefined });
    return localRunner(command, stdin);
  };
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fettle-inline-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (file: string): string => (statSync(file).mode & 0o7777).toString(8).padStart(4, '0');

describe('small text files written by the script itself', () => {
  it('are written byte for byte with their modes, by `sh -s` with the text on stdin (never in a command line), binary and large files by tar beside them', async () => {
    const commands: { command: string; stdin: Buffer | undefined }[] = [];
    const write = tarWriter(recordingRunner(commands), { hostName: 'here' });
    const texts: [string, string, string][] = [
      ['plain.txt', 'one\ntwo\n', '0644'],
      ['quotes.txt', `it's "quoted" \\ back\\slash %s %d $HOME \`id\` $(id)\n-n\n`, '0640'],
      ['no-newline.txt', 'no newline at the end', '0600'],
      ['empty.txt', '', '0644'],
      ['unicode.txt', 'ünïcödé ✓ 中文\ttab\r\n', '0444'],
      ['run.sh', '#!/bin/sh\necho hi\n', '0755'],
      ['setuid.txt', 'special\n', '4755'],
      ['-dash.txt', '-e not an option\n', '0644'],
      ['emoji.txt', 'surrogate pairs 😀\n', '0644'],
      ['nul.txt', 'a NUL \0 goes by tar\n', '0644'],
    ];
    const binary = Buffer.from([0, 1, 2, 255, 0]);
    const large = 'x'.repeat(70 * 1024);
    await Promise.all([
      ...texts.map(([name, content, wanted]) => write(path.join(dir, name), content, { mode: wanted })),
      write(path.join(dir, 'binary.bin'), binary, { mode: '0644' }),
      write(path.join(dir, 'large.txt'), large, { mode: '0644' }),
    ]);
    for (const [name, content, wanted] of texts) {
      expect(readFileSync(path.join(dir, name), 'utf8')).toBe(content);
      expect(mode(path.join(dir, name))).toBe(wanted);
    }
    expect(readFileSync(path.join(dir, 'binary.bin')).equals(binary)).toBe(true);
    expect(readFileSync(path.join(dir, 'large.txt'), 'utf8')).toBe(large);
    expect(readdirSync(dir).filter((name) => name.includes('fettle-tmp'))).toEqual([]);
    // Two commands: the text in the script on stdin, the rest as a tar stream.
    expect(commands.map((entry) => entry.command.split(' ').slice(0, 2).join(' ')).sort()).toEqual(['sh -c', 'sh -s']);
    const inline = commands.find((entry) => entry.command === 'sh -s');
    expect(inline?.stdin?.toString('utf8')).toContain('echo hi');
    for (const entry of commands) expect(entry.command).not.toContain('echo hi');
  });

  it('a full disk fails the folder with its reason and renames nothing: the old content stays, no temp folder is left', async () => {
    const small = mkdtempSync(path.join(tmpdir(), 'fettle-inline-full-'));
    const mounted = await recordingRunner([])(`mount -t tmpfs -o size=64k tmpfs '${small}'`);
    expect(mounted.code).toBe(0);
    try {
      writeFileSync(path.join(small, 'b.txt'), 'old\n');
      const write = tarWriter(recordingRunner([]), { hostName: 'here' });
      const results = await Promise.allSettled([write(path.join(small, 'a.txt'), 'a'.repeat(40 * 1024)), write(path.join(small, 'b.txt'), 'b'.repeat(40 * 1024))]);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect(String((result as PromiseRejectedResult).reason)).toMatch(/cannot write .*: no space left on device/);
      }
      expect(readdirSync(small).sort()).toEqual(['b.txt']);
      expect(readFileSync(path.join(small, 'b.txt'), 'utf8')).toBe('old\n');
    } finally {
      await recordingRunner([])(`umount '${small}'`);
      rmSync(small, { recursive: true, force: true });
    }
  });
});
