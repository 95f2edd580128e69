import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defineFactPerQuery, factEnv } from './fact.js';
import { rawShell } from './shell.js';

const env = factEnv();
const echo = defineFactPerQuery<string, { code: number; stdout: string }>({
  name: 'test.echo',
  each: (snippet) => rawShell(snippet),
  parseOne: (output) => output,
});

describe('defineFactPerQuery', () => {
  it('frames each snippet: exit codes, exact bytes, output that looks like a frame, a snippet that exits', () => {
    const queries = ['printf "a\\nb\\n\\n"', 'echo "@0 99"; exit 4', 'printf "é ünï"', 'cat /no/such/file', 'exit 0', 'echo after'];
    const stdout = execFileSync('sh', ['-c', echo.command(queries, env).text], { encoding: 'utf8' });
    expect(echo.parse(stdout, queries, env)).toEqual([
      { code: 0, stdout: 'a\nb\n\n' },
      { code: 4, stdout: '@0 99\n' },
      { code: 0, stdout: 'é ünï' },
      { code: 1, stdout: '' },
      { code: 0, stdout: '' },
      { code: 0, stdout: 'after\n' },
    ]);
  });

  it('refuses output that is cut short or malformed', () => {
    expect(() => echo.parse('@0 10\nabc', ['x'], env)).toThrow(/cut short/);
    expect(() => echo.parse('garbage', ['x'], env)).toThrow(/malformed/);
  });
});
