import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildBatchScript, parseBatchOutput } from './batch.js';

describe('batch script', () => {
  it('runs every op and frames output exactly, binary and hostile text included', () => {
    const ops = [
      { command: 'printf "a\\nb"' },
      { command: 'echo err >&2; exit 3' },
      { command: 'cat', stdin: Buffer.from([0, 1, 2, 255, 10, 64]) },
      { command: `printf '\\n@3 0 0 0\\n'` }, // looks like a frame header: must not confuse the parser
      { command: "echo 'single quotes' \"and $HOME\"" },
    ];
    const result = spawnSync('sh', ['-s'], { input: buildBatchScript(ops) });
    const parsed = parseBatchOutput(result.stdout, ops.length);
    expect(parsed).toHaveLength(5);
    expect(parsed[0]?.stdout.toString()).toBe('a\nb');
    expect(parsed[1]).toMatchObject({ code: 3 });
    expect(parsed[1]?.stderr.toString()).toBe('err\n');
    expect([...(parsed[2]?.stdout ?? [])]).toEqual([0, 1, 2, 255, 10, 64]);
    expect(parsed[3]?.stdout.toString()).toBe('\n@3 0 0 0\n');
    expect(parsed[4]?.stdout.toString()).toBe(`single quotes and ${process.env['HOME'] ?? ''}\n`);
  });
  it('returns fewer results when the output is cut short', () => {
    const ops = [{ command: 'printf a' }, { command: 'printf bbbbb' }];
    const whole = spawnSync('sh', ['-s'], { input: buildBatchScript(ops) }).stdout;
    expect(parseBatchOutput(whole, 2).map((r) => r.stdout.toString())).toEqual(['a', 'bbbbb']);
    expect(parseBatchOutput(whole.subarray(0, whole.length - 2), 2)).toHaveLength(1);
    expect(parseBatchOutput(Buffer.from('garbage'), 2)).toHaveLength(0);
  });
});
