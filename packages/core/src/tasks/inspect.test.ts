import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineSite, type SiteConfig } from '../protocols/site.js';
import type { Task } from '../protocols/task.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { runSite } from '../engine/engine.js';
import { inspectTasks } from '../engine/inspect-tasks.js';
import { loggedTask, sandboxPlugin, tempRoot } from './testing.js';

let root: string;
let remove: () => Promise<void>;
let site: SiteConfig;
const hashes: Record<string, string> = {};
const log: string[] = [];

beforeEach(async () => {
  ({ dir: root, remove } = await tempRoot());
  Object.assign(hashes, { schema: '1', conf: 'v1' });
  log.length = 0;
  const tasks: Record<string, Task[]> = {
    db: [loggedTask(log, 'db', 'schema', { hash: () => hashes['schema'] ?? '' })],
    web: [
      loggedTask(log, 'web', 'conf', { hash: () => hashes['conf'] ?? '' }),
      loggedTask(log, 'web', 'app', { dependsOn: ['db/schema'] }),
      loggedTask(log, 'web', 'steady'),
    ],
    ro: [loggedTask(log, 'ro', 'init')],
  };
  const sandbox = (name: string) => ({ transportOptions: { root: path.join(root, name) } });
  site = defineSite({
    plugins: [sandboxPlugin()],
    hosts: new MemoryHostStore({
      defaults: { transport: 'sandbox' },
      hosts: { db: sandbox('db'), web: sandbox('web'), ro: { ...sandbox('ro'), readonly: true } },
      defaultRoles: ['tasks'],
    }),
    roles: { tasks: (host) => ({ tasks: tasks[host.name] ?? [] }) },
  });
});
afterEach(() => remove());

async function host(name: string) {
  const found = (await site.hosts.listHosts()).find((candidate) => candidate.name === name);
  if (!found) throw new Error(name);
  return found;
}
const registry = () => new Registry(site.plugins);
const inspect = async (name: string) => inspectTasks({ site, registry: registry(), siteDir: root, host: await host(name) });
const apply = async (...names: string[]) =>
  runSite({ site, siteDir: root, registry: registry(), hosts: await Promise.all(names.map(host)), mode: 'apply' });

describe('inspectTasks (fettle tasks)', () => {
  it('says no stamp before the first run, then up to date, in one remote command, running nothing', async () => {
    const before = await inspect('web');
    expect(before.tasks.map((task) => [task.id, task.status, task.because])).toEqual([
      ['conf', 'would-run', 'no stamp'],
      ['app', 'would-run', 'no stamp'],
      ['steady', 'would-run', 'no stamp'],
    ]);
    expect(before.execs).toBe(1);
    await apply('db', 'web');
    const after = await inspect('web');
    expect(after.tasks.map((task) => task.status)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
    expect(after.tasks[0]?.because).toMatch(/^up to date \(ran at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);
    expect(after.tasks[0]?.stamp?.hash).toBe('v1');
    log.length = 0;
    await inspect('web');
    expect(log).toEqual([]);
  });

  it('names a changed hash and a dependency that ran later', async () => {
    await apply('db', 'web');
    hashes['conf'] = 'v2';
    hashes['schema'] = '2';
    await apply('db');
    const report = await inspect('web');
    expect(report.tasks.map((task) => task.because)).toEqual([
      'hash changed from v1 to v2',
      expect.stringMatching(/^dependency db\/schema ran at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      expect.stringMatching(/^up to date/),
    ]);
    expect(report.tasks[1]?.reason).toMatchObject({ kind: 'dependency', dependency: 'db/schema' });
  });

  it('says a readonly host would not run its tasks', async () => {
    const report = await inspect('ro');
    expect(report.readonly).toBe(true);
    expect(report.tasks.map((task) => [task.status, task.because])).toEqual([['readonly', 'readonly host, not run (would run: no stamp)']]);
  });
});
