import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBatchScript, needsSubshell, parseBatchOutput, unframedStderr, type BatchOp } from './batch.js';

const runBatch = (ops: readonly BatchOp[], cwd?: string) => spawnSync('sh', ['-s'], { input: buildBatchScript(ops), cwd });

describe('batch script', () => {
  it('runs every op and frames output exactly, binary and hostile text included', () => {
    const ops = [
      { command: 'printf "a\\nb"' },
      { command: 'echo err >&2; exit 3' },
      { command: 'cat', stdin: Buffer.from([0, 1, 2, 255, 10, 64]) },
      { command: `printf '\\n@3 0 0 0\\n'` }, // looks like the old frame header
      { command: "echo 'single quotes' \"and $HOME\"" },
      // a header and frames of the same shape, with a marker that is not this batch's
      { command: `printf '@%s\\n\\n%s 0\\n' ${'0'.repeat(32)} ${'0'.repeat(32)}; printf '\\n%s\\n' ${'0'.repeat(32)} >&2` },
      { command: 'printf "no newline at the end"' },
    ];
    const result = runBatch(ops);
    const parsed = parseBatchOutput(result, ops.length);
    expect(parsed).toHaveLength(7);
    expect(parsed[0]?.stdout.toString()).toBe('a\nb');
    expect(parsed[1]).toMatchObject({ code: 3 });
    expect(parsed[1]?.stderr.toString()).toBe('err\n');
    expect([...(parsed[2]?.stdout ?? [])]).toEqual([0, 1, 2, 255, 10, 64]);
    expect(parsed[3]?.stdout.toString()).toBe('\n@3 0 0 0\n');
    expect(parsed[4]?.stdout.toString()).toBe(`single quotes and ${process.env['HOME'] ?? ''}\n`);
    expect(parsed[5]?.stdout.toString()).toBe(`@${'0'.repeat(32)}\n\n${'0'.repeat(32)} 0\n`);
    expect(parsed[5]?.stderr.toString()).toBe(`\n${'0'.repeat(32)}\n`);
    expect(parsed[6]?.stdout.toString()).toBe('no newline at the end');
    expect(parsed.map((r) => r.code)).toEqual([0, 3, 0, 0, 0, 0, 0]);
  });

  it('returns fewer results when the output is cut short', () => {
    const ops = [{ command: 'printf a' }, { command: 'printf bbbbb' }];
    const whole = runBatch(ops);
    expect(parseBatchOutput(whole, 2).map((r) => r.stdout.toString())).toEqual(['a', 'bbbbb']);
    expect(parseBatchOutput({ stdout: whole.stdout.subarray(0, whole.stdout.length - 2), stderr: whole.stderr }, 2)).toHaveLength(1);
    expect(parseBatchOutput({ stdout: whole.stdout, stderr: whole.stderr.subarray(0, whole.stderr.length - 2) }, 2)).toHaveLength(1);
    expect(parseBatchOutput({ stdout: Buffer.from('garbage'), stderr: Buffer.alloc(0) }, 2)).toHaveLength(0);
  });

  it('says why a batch ended early with what came after the last complete op', () => {
    const ops = [{ command: 'echo first >&2' }, { command: 'echo dying >&2; kill -9 $$' }, { command: 'echo never' }];
    const result = runBatch(ops);
    expect(parseBatchOutput(result, ops.length)).toHaveLength(1);
    expect(unframedStderr(result)).toBe('dying\n');
  });

  it('keeps each op from changing the shell the next ops run in (cd, assignments, set, exit)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-batch-'));
    try {
      const ops = [{ command: 'cd /' }, { command: 'IFS=x; PATH=/nowhere; set -e; false' }, { command: 'exit 7' }, { command: 'pwd' }, { command: 'ls -d .' }];
      const parsed = parseBatchOutput(runBatch(ops, dir), ops.length);
      expect(parsed.map((r) => r.code)).toEqual([0, 1, 7, 0, 0]);
      expect(parsed[3]?.stdout.toString()).toBe(`${dir}\n`);
      expect(parsed[4]?.stdout.toString()).toBe('.\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('feeds stdin to an op that reads it, and no noise to one that does not', () => {
    const big = Buffer.alloc(300_000, 'x');
    const ops = [{ command: 'true', stdin: big }, { command: 'wc -c', stdin: big }, { command: 'cat' }];
    const parsed = parseBatchOutput(runBatch(ops), ops.length);
    expect(parsed.map((r) => [r.code, r.stdout.toString().trim(), r.stderr.toString()])).toEqual([
      [0, '', ''],
      [0, '300000', ''],
      [0, '', ''], // an op without stdin reads nothing (not the script)
    ]);
  });

  it('feeds text stdin byte for byte as a here-document, and an op that changes its shell stays in a subshell', () => {
    const texts = [
      'plain\n',
      "it's $HOME `id` $(id) \\ back\\slash\n\n\nblank lines above\n",
      'FETTLE_EOF_0123456789abcdef\nEOF\n',
      'crlf\r\nünïcödé ✓\n',
      '\n',
    ];
    const ops: BatchOp[] = [
      ...texts.map((text) => ({ command: 'cat', stdin: Buffer.from(text) })),
      { command: 'read line; echo "got $line"; cd /; exit 4', stdin: Buffer.from('first\nsecond\n') },
      { command: 'pwd' },
      { command: 'cat', stdin: Buffer.from('no newline at the end') },
      { command: 'cat', stdin: Buffer.from([0xff, 0x0a]) },
    ];
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-batch-text-'));
    try {
      const parsed = parseBatchOutput(runBatch(ops, dir), ops.length);
      expect(parsed.slice(0, texts.length).map((result) => result.stdout.toString())).toEqual(texts);
      expect(parsed[texts.length]).toMatchObject({ code: 4 });
      expect(parsed[texts.length]?.stdout.toString()).toBe('got first\n');
      expect(parsed[texts.length + 1]?.stdout.toString()).toBe(`${dir}\n`);
      expect(parsed[texts.length + 2]?.stdout.toString()).toBe('no newline at the end');
      expect([...(parsed[texts.length + 3]?.stdout ?? [])]).toEqual([0xff, 0x0a]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs nothing after a failed guard; a stage runs only when every op of the stages before it succeeded', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-batch-gate-'));
    try {
      const mark = (name: string) => `touch ${path.join(dir, name)}`;
      const refused = [
        { command: 'echo held; exit 3', guard: true },
        { command: mark('fix'), stage: 0 },
        { command: 'cat', stdin: Buffer.from('tar stream'), stage: 1 },
        { command: 'echo read' }, // unstaged: a read after the fixes runs whatever happened
      ];
      const parsed = parseBatchOutput(runBatch(refused), refused.length);
      expect(parsed.map((r) => [r.code, r.notRun ?? false, r.stdout.toString()])).toEqual([
        [3, false, 'held\n'],
        [null, true, ''],
        [null, true, ''],
        [0, false, 'read\n'],
      ]);
      expect(existsSync(path.join(dir, 'fix'))).toBe(false);

      const staged = [
        { command: 'true', guard: true },
        { command: 'exit 1', stage: 0 },
        { command: mark('sibling'), stage: 0 }, // same stage as the failure: runs
        { command: mark('dependent'), stage: 1 },
        { command: mark('later'), stage: 2 },
      ];
      const second = parseBatchOutput(runBatch(staged), staged.length);
      expect(second.map((r) => r.notRun ?? r.code)).toEqual([0, 1, 0, true, true]);
      expect(existsSync(path.join(dir, 'sibling'))).toBe(true);
      expect(existsSync(path.join(dir, 'dependent'))).toBe(false);

      const clean = [{ command: mark('a'), stage: 0 }, { command: 'cat', stdin: Buffer.from('x'), stage: 1 }, { command: mark('b'), stage: 2 }];
      expect(parseBatchOutput(runBatch(clean), clean.length).map((r) => r.notRun ?? r.code)).toEqual([0, 0, 0]);
      expect(existsSync(path.join(dir, 'b'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs only plain commands without a subshell', () => {
    const plain = ["dpkg-query -W -f '${Package} ${Version}\\n' 'bash' 'coreutils'", 'stat -c %a /etc', 'ls /\nuname -a', 'cat /etc/hostname | sha256sum', 'true'];
    const isolated = [
      'exit 0',
      'cd /tmp',
      'X=1',
      'LC_ALL=C stat /',
      'set -- a b',
      "'exit' 3",
      'a || b',
      'a; b',
      'a && b',
      'echo $HOME',
      'echo `id`',
      'cat </etc/hostname',
      'f() { :; }',
      'for p in a; do :; done',
      '. ./x',
      'command cd /',
      '| cat',
    ];
    expect(plain.filter(needsSubshell)).toEqual([]);
    expect(isolated.filter((command) => !needsSubshell(command))).toEqual([]);
  });

  it.runIf(existsSync('/usr/bin/strace'))('forks on the host only what the ops run: no temp folder, no framing program, no subshell for a plain op', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-batch-strace-'));
    try {
      const trace = path.join(dir, 'trace');
      const count = (ops: readonly BatchOp[]) => {
        const result = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fork,vfork,clone,clone3,execve', '-o', trace, 'sh', '-s'], { input: buildBatchScript(ops) });
        expect(parseBatchOutput(result, ops.length)).toHaveLength(ops.length);
        const lines = readFileSync(trace, 'utf8').split('\n');
        return {
          processes: lines.filter((line) => /\b(v?fork|clone3?)\(/.test(line) && !/= -1/.test(line)).length,
          programs: lines.filter((line) => /execve\(/.test(line) && !/= -1/.test(line)).map((line) => /execve\("([^"]+)"/.exec(line)?.[1] ?? ''),
        };
      };
      // Five plain ops: one process each (the program itself), and nothing else.
      const plain = count(Array.from({ length: 5 }, () => ({ command: '/bin/true' })));
      expect(plain.processes).toBe(5);
      expect(plain.programs.filter((program) => !/\/(da)?sh$/.test(program))).toEqual(Array.from({ length: 5 }, () => '/bin/true'));
      // An op that needs its own shell costs one more process; an op with binary stdin, its base64 and its pipe end.
      expect(count([{ command: 'exit 3' }]).processes).toBe(1);
      expect(count([{ command: 'cat', stdin: Buffer.from('x') }]).programs.filter((program) => !/\/(da)?sh$/.test(program)).sort()).toEqual(['/usr/bin/base64', '/usr/bin/cat']);
      // Text stdin (lines) is a here-document: the program alone.
      expect(count([{ command: 'cat', stdin: Buffer.from('x\ny\n') }]).programs.filter((program) => !/\/(da)?sh$/.test(program))).toEqual(['/usr/bin/cat']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
