import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '../../dist/bin.js');
// Inside this package, so node resolves @fettle/* from its node_modules.
const sitesRoot = path.resolve(here, '../../.test-sites');
let dir: string;

const config = `import { readFileSync } from 'node:fs';
import { MemoryHostStore, defineSite } from '@fettle/core';
import local from '@fettle/transport-local';

// Hash inputs come from state.json, so a test changes them between commands.
const state = JSON.parse(readFileSync(new URL('./state.json', import.meta.url), 'utf8'));
const task = (id, extra = {}) => ({ id, description: 'task ' + id, run: async () => undefined, ...extra });
const tasks = {
  db: [task('schema', { hash: () => state.schema })],
  web: [task('conf', { hash: () => state.conf }), task('app', { dependsOn: ['db/schema'] }), task('steady', { order: 5 })],
  ro: [task('init')],
};
const at = (name, extra = {}) => ({ transport: 'local', transportOptions: { root: 'sandbox/' + name }, ...extra });
export default defineSite({
  plugins: [local],
  hosts: new MemoryHostStore({ hosts: { db: at('db'), web: at('web'), ro: at('ro', { readonly: true }) }, defaultRoles: ['setup'] }),
  roles: { setup: (host) => ({ tasks: tasks[host.name] }) },
});
`;

function fettle(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, '--site', dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
const state = (values: Record<string, string>) => writeFileSync(path.join(dir, 'state.json'), JSON.stringify(values));
const rows = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => /^\s*\d+ {2}/.test(line))
    .map((line) => line.trim().split(/ {2,}/));

beforeAll(() => {
  mkdirSync(sitesRoot, { recursive: true });
  dir = mkdtempSync(path.join(sitesRoot, 'tasks-'));
  writeFileSync(path.join(dir, 'fettle.config.mjs'), config);
  state({ schema: '1', conf: 'v1' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fettle tasks HOST', () => {
  it('says "no stamp" before any run, in run order, and changes nothing', () => {
    const { code, stdout, stderr } = fettle('tasks', 'web');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(rows(stdout)).toEqual([
      ['1', 'conf', 'would run', 'no stamp'],
      ['2', 'app', 'would run', 'no stamp'],
      ['3', 'steady', 'would run', 'no stamp'],
    ]);
    expect(stdout).toContain('web: 3 would run, 0 up to date');
    expect(existsSync(path.join(dir, 'sandbox/web/var'))).toBe(false);
  });

  it('says "up to date" after apply ran them', () => {
    const apply = fettle('apply');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/web {2}~ task:conf {2}changed\n {4}ran {2}no stamp/);
    const { stdout } = fettle('tasks', 'web');
    expect(rows(stdout).map((row) => [row[1], row[2], row[3]?.replace(/\d{4}-\S+Z/, 'T')])).toEqual([
      ['conf', 'up to date', 'up to date (ran at T)'],
      ['app', 'up to date', 'up to date (ran at T)'],
      ['steady', 'up to date', 'up to date (ran at T)'],
    ]);
  });

  it('says "hash changed from X to Y" and "dependency HOST/TASK ran at T"', () => {
    state({ schema: '2', conf: 'v2' });
    expect(fettle('apply', 'db').code).toBe(0);
    const { stdout } = fettle('tasks', 'web');
    const [conf, app, steady] = rows(stdout);
    expect(conf).toEqual(['1', 'conf', 'would run', 'hash changed from v1 to v2']);
    expect(app?.slice(0, 3)).toEqual(['2', 'app', 'would run']);
    expect(app?.[3]).toMatch(/^dependency db\/schema ran at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(steady?.[2]).toBe('up to date');
  });

  it('says a readonly host never runs its tasks', () => {
    const { code, stdout } = fettle('tasks', 'ro');
    expect(code).toBe(0);
    expect(rows(stdout)).toEqual([['1', 'init', 'readonly', 'readonly host, not run (would run: no stamp)']]);
    expect(stdout).toContain('(readonly host: apply never runs its tasks)');
    expect(fettle('apply', 'ro').stdout).toMatch(/task:init {2}skipped: readonly host, not run/);
    expect(existsSync(path.join(dir, 'sandbox/ro/var'))).toBe(false);
  });

  it('prints one JSON document with --json', () => {
    const { code, stdout } = fettle('--json', 'tasks', 'web');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { host: string; readonly: boolean; tasks: { id: string; wouldRun: boolean; reason: { kind: string; from?: string; to?: string }; stamp: { ran: string } | null }[] };
    expect(report.host).toBe('web');
    expect(report.readonly).toBe(false);
    expect(report.tasks.map((task) => [task.id, task.wouldRun, task.reason.kind])).toEqual([
      ['conf', true, 'hash-changed'],
      ['app', true, 'dependency'],
      ['steady', false, 'up-to-date'],
    ]);
    expect(report.tasks[0]?.reason).toMatchObject({ from: 'v1', to: 'v2' });
    expect(report.tasks[0]?.stamp?.ran).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('names an unknown host', () => {
    const { code, stderr } = fettle('tasks', 'nope');
    expect(code).toBe(3);
    expect(stderr).toMatch(/no host named 'nope'/);
  });
});
