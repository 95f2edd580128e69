import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineSite, type SiteConfig } from '../protocols/site.js';
import { SkipTask, type Task } from '../protocols/task.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { runSite } from '../engine/engine.js';
import type { HostResult, RunMode } from '../engine/results.js';
import { loggedTask, sandboxPlugin, tempRoot } from './testing.js';

interface World {
  root: string;
  log: string[];
  hashes: Record<string, string>;
  execs: Map<string, number>;
  extra: Record<string, Task[]>;
  site: SiteConfig;
}

let world: World;
let remove: () => Promise<void>;

beforeEach(async () => {
  const temp = await tempRoot();
  remove = temp.remove;
  const log: string[] = [];
  const hashes: Record<string, string> = { schema: '1', app: 'a' };
  const execs = new Map<string, number>();
  const extra: Record<string, Task[]> = {};
  const tasksOf = (host: string): Task[] => {
    const base: Record<string, Task[]> = {
      db: [
        loggedTask(log, 'db', 'seed', { order: 20 }),
        loggedTask(log, 'db', 'schema', { order: 10, hash: () => hashes['schema'] ?? '' }),
        loggedTask(log, 'db', 'cleanup', { before: 'seed' }),
        loggedTask(log, 'db', 'prepare'),
      ],
      web: [loggedTask(log, 'web', 'app', { dependsOn: ['db/schema'], hash: () => hashes['app'] ?? '' })],
      ro: [loggedTask(log, 'ro', 'init', { dependsOn: ['db/schema'] })],
    };
    return [...(base[host] ?? []), ...(extra[host] ?? [])];
  };
  const sandbox = (name: string) => ({ transportOptions: { root: path.join(temp.dir, name) } });
  const site = defineSite({
    plugins: [sandboxPlugin(execs)],
    hosts: new MemoryHostStore({
      defaults: { transport: 'sandbox' },
      hosts: { db: sandbox('db'), web: sandbox('web'), ro: { ...sandbox('ro'), readonly: true } },
      defaultRoles: ['tasks'],
    }),
    roles: { tasks: (host) => ({ tasks: tasksOf(host.name) }) },
  });
  world = { root: temp.dir, log, hashes, execs, extra, site };
});

afterEach(() => remove());

async function run(mode: RunMode, names: string[]): Promise<Record<string, HostResult>> {
  const all = await world.site.hosts.listHosts();
  const hosts = names.map((name) => all.find((host) => host.name === name)).filter((host) => host !== undefined);
  const warnings: string[] = [];
  const result = await runSite({ site: world.site, siteDir: world.root, registry: new Registry(world.site.plugins), hosts, mode, concurrency: 1, warn: (m) => warnings.push(m) });
  expect(warnings).toEqual([]);
  return Object.fromEntries(result.hosts.map((host) => [host.host, host]));
}

const reasons = (host: HostResult | undefined): Record<string, string> =>
  Object.fromEntries((host?.items ?? []).map((item) => [item.id, `${item.status}: ${item.reason ?? ''}`]));
const stampFile = (host: string, task: string) => path.join(world.root, host, 'var/lib/fettle/stamps', host, task);

describe('setup tasks in apply', () => {
  it('runs in order (order, then before), writes stamps that persist, and runs nothing the second time', async () => {
    const first = await run('apply', ['db']);
    expect(world.log).toEqual(['db/prepare', 'db/schema', 'db/cleanup', 'db/seed']);
    expect(first['db']?.status).toBe('changed');
    expect(reasons(first['db'])).toEqual({
      'task:prepare': 'changed: no stamp',
      'task:schema': 'changed: no stamp',
      'task:cleanup': 'changed: no stamp',
      'task:seed': 'changed: no stamp',
    });
    const stamp = JSON.parse(await readFile(stampFile('db', 'schema'), 'utf8')) as { ran: number; hash: string };
    expect(stamp.hash).toBe('1');
    expect(Date.now() - stamp.ran).toBeLessThan(60_000);

    world.execs.clear();
    const second = await run('apply', ['db']);
    expect(world.log).toHaveLength(4);
    expect(second['db']?.status).toBe('ok');
    expect(Object.values(reasons(second['db']))).toEqual(Array(4).fill(expect.stringMatching(/^ok: up to date \(ran at \d{4}-.*Z\)$/)));
    // Four stamps and the lock probe in one remote command; nothing ran, so no lock was taken.
    expect(second['db']?.roundTrips.execs).toBe(1);
    expect(world.execs.get('db')).toBe(1);
  });

  it('re-runs a task whose hash changed, and only that task', async () => {
    await run('apply', ['db']);
    world.hashes['schema'] = '2';
    const result = await run('apply', ['db']);
    expect(world.log.slice(4)).toEqual(['db/schema']);
    expect(reasons(result['db'])['task:schema']).toBe('changed: hash changed from 1 to 2');
    expect(JSON.parse(await readFile(stampFile('db', 'schema'), 'utf8'))).toMatchObject({ hash: '2' });
  });

  it('re-runs the dependent task on another host after the task it depends on re-ran (same run, dependent listed first)', async () => {
    await run('apply', ['web', 'db']);
    expect(world.log.indexOf('db/schema')).toBeLessThan(world.log.indexOf('web/app'));
    world.log.length = 0;
    world.hashes['schema'] = '2';
    const result = await run('apply', ['web', 'db']);
    expect(world.log).toEqual(['db/schema', 'web/app']);
    expect(reasons(result['web'])['task:app']).toMatch(/^changed: dependency db\/schema ran at \d{4}-\d\d-\d\dT/);
    world.log.length = 0;
    await run('apply', ['web', 'db']);
    expect(world.log).toEqual([]);
  });

  it('reads the stamp of a dependency host outside the run', async () => {
    await run('apply', ['db', 'web']);
    world.hashes['schema'] = '3';
    await run('apply', ['db']);
    world.log.length = 0;
    const result = await run('apply', ['web']);
    expect(world.log).toEqual(['web/app']);
    expect(reasons(result['web'])['task:app']).toMatch(/dependency db\/schema ran at/);
  });

  it('plan reports what would run, with dependencies that would run, and runs nothing', async () => {
    await run('apply', ['db', 'web']);
    world.hashes['schema'] = '2';
    world.log.length = 0;
    const result = await run('plan', ['db', 'web']);
    expect(world.log).toEqual([]);
    expect(reasons(result['db'])['task:schema']).toBe('wouldChange: hash changed from 1 to 2');
    expect(reasons(result['web'])['task:app']).toBe('wouldChange: dependency db/schema would run');
    expect(result['web']?.items.find((item) => item.id === 'task:app')?.diff).toEqual([{ key: 'would run', want: 'dependency db/schema would run' }]);
  });

  it('leaves a readonly host untouched and says why', async () => {
    const result = await run('apply', ['ro']);
    expect(world.log).toEqual([]);
    expect(existsSync(path.join(world.root, 'ro', 'var'))).toBe(false);
    expect(result['ro']?.readonly).toBe(true);
    expect(reasons(result['ro'])).toEqual({ 'task:init': 'skipped: readonly host, not run (would run: no stamp)' });
  });

  it('lets a task skip itself (no stamp: asked again next run), and stops after a failure', async () => {
    let skips = 0;
    world.extra['db'] = [
      {
        id: 'maybe',
        description: 'skips itself',
        order: 30,
        run: () => {
          skips++;
          throw new SkipTask('nothing to do yet');
        },
      },
      { id: 'broken', description: 'fails', order: 40, run: () => Promise.reject(new Error('boom')) },
      loggedTask(world.log, 'db', 'after', { order: 50 }),
    ];
    const result = await run('apply', ['db']);
    expect(reasons(result['db'])).toMatchObject({
      'task:maybe': 'skipped: skipped itself: nothing to do yet',
      'task:broken': 'failed: no stamp',
      'task:after': 'skipped: not run: task broken failed',
    });
    expect(result['db']?.items.find((item) => item.id === 'task:broken')?.error).toBe('boom');
    expect(result['db']?.status).toBe('failed');
    expect(existsSync(stampFile('db', 'maybe'))).toBe(false);
    expect(existsSync(stampFile('db', 'broken'))).toBe(false);
    await run('apply', ['db']);
    expect(skips).toBe(2);
  });

  it('fails before touching any host when a task sets both order and before', async () => {
    world.extra['web'] = [{ id: 'both', description: 'bad', order: 1, before: 'app', run: () => Promise.resolve() }];
    await expect(run('apply', ['db', 'web'])).rejects.toThrow(/task 'both' sets both order and before/);
    expect(world.log).toEqual([]);
    expect(existsSync(path.join(world.root, 'db'))).toBe(false);
  });
});
