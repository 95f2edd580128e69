import path from 'node:path';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType, type ItemMap } from '../protocols/item.js';
import { defineFact } from '../protocols/fact.js';
import { joinShell, sh } from '../protocols/shell.js';
import { definePlugin } from '../protocols/plugin.js';
import { defineSite } from '../protocols/site.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { sandboxPlugin, tempRoot } from '../tasks/testing.js';
import { runSite } from './engine.js';
import type { ItemResult } from './results.js';

const roots: { remove: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await root.remove();
});

/** What a path is: a folder, a link, a file, or nothing (`-` for a link followed into nothing). */
const kindOf = defineFact<string, string>({
  name: 'test.kind',
  command: (paths, env) =>
    joinShell(
      paths.map((p) => sh`p=${env.hostPath(p)}; if [ -L "$p" ]; then echo link; elif [ -d "$p" ]; then echo folder; elif [ -e "$p" ]; then echo file; else echo none; fi`),
      '\n',
    ),
  parse: (stdout) => stdout.trim().split('\n'),
});

const parentOf = (name: string): string[] => [`folder:${path.posix.dirname(name)}`];

/** A path-scoped container, like items-files' directory (a link in the way is replaced). */
const folder = defineItemType({
  name: 'folder',
  attributes: z.strictObject({}),
  pathScope: 'container',
  implicitNeeds: (item) => parentOf(item.name),
  cdict: () => ({ kind: 'folder' }),
  sdict: async (item, context) => {
    const kind = await context.fact(kindOf, item.name);
    return kind === 'none' ? null : { kind };
  },
  fix: async (change, item, context) => {
    const real = context.hostPath(item.name);
    await context.runChecked(change.sdict === null ? sh`mkdir -- ${real}` : sh`rm -f -- ${real} && mkdir -- ${real}`);
  },
});

function leafType(name: string, pathScoped: boolean) {
  return defineItemType({
    name,
    attributes: z.strictObject({}),
    ...(pathScoped ? { pathScope: 'leaf' as const } : {}),
    implicitNeeds: (item) => parentOf(item.name),
    cdict: () => ({ kind: 'file' }),
    sdict: async (item, context) => {
      const kind = await context.fact(kindOf, item.name);
      return kind === 'none' ? null : { kind };
    },
    fix: async (_change, item, context) => {
      await context.runChecked(sh`touch -- ${context.hostPath(item.name)}`);
    },
  });
}
const leaf = leafType('leaf', true);
/** The same, without the declaration: an action, a package… never follows into a batch. */
const step = leafType('step', false);

async function apply(items: ItemMap, prepare?: (root: string) => void, confirm?: (host: string, result: ItemResult) => Promise<boolean>) {
  const root = await tempRoot();
  roots.push(root);
  prepare?.(root.dir);
  const execs = new Map<string, number>();
  const config = defineSite({
    plugins: [definePlugin({ name: 'paths', itemTypes: [folder, leaf, step] }), sandboxPlugin(execs)],
    hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sandbox', transportOptions: { root: root.dir } } }, defaultRoles: ['r'] }),
    roles: { r: () => items },
  });
  const result = await runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode: 'apply', confirm });
  const host = result.hosts[0];
  const byId = Object.fromEntries((host?.items ?? []).map((item) => [item.id, item]));
  return { root: root.dir, host, byId, execs: execs.get('h1') ?? 0, at: (p: string) => path.join(root.dir, p) };
}

describe('fixes that follow their dependency into its batch', () => {
  it('makes a missing folder and what is under it in one batch: gather, then take + fixes + confirm + release', async () => {
    const run = await apply({ 'folder:/d': {}, 'folder:/d/e': {}, 'leaf:/d/a': {}, 'leaf:/d/e/b': {} });
    expect(run.host?.status).toBe('changed');
    expect(Object.values(run.byId).map((item) => item.status)).toEqual(['changed', 'changed', 'changed', 'changed']);
    expect(existsSync(run.at('d/e/b'))).toBe(true);
    expect(run.execs).toBe(2);
    expect(existsSync(run.at('var/lib/fettle/lock'))).toBe(false);
  });

  it('skips, without running them, the items under a folder whose fix failed; the others of the batch get their own wave', async () => {
    // /p is a file: /p/d cannot be made. /ok/x's stage is stopped too, and fixed in a wave of its own.
    const run = await apply({ 'folder:/p/d': {}, 'leaf:/p/d/a': {}, 'folder:/ok': {}, 'leaf:/ok/x': {} }, (root) => writeFileSync(path.join(root, 'p'), 'a file\n'));
    expect(run.byId['folder:/p/d']).toMatchObject({ status: 'failed' });
    expect(run.byId['leaf:/p/d/a']).toMatchObject({ status: 'skipped', reason: 'needs folder:/p/d, which failed' });
    expect(run.byId['folder:/ok']?.status).toBe('changed');
    expect(run.byId['leaf:/ok/x']?.status).toBe('changed');
    expect(existsSync(run.at('ok/x'))).toBe(true);
    // The release rode behind the stopped stage, so it did not run: the lock stayed for /ok/x, then went.
    expect(existsSync(run.at('var/lib/fettle/lock'))).toBe(false);
  });

  it('does not merge under a folder that exists as a link (its items were read through the link) nor a dependent without pathScope', async () => {
    // /d is a link to /elsewhere, which has x: x looked right through the link; replacing the link empties /d.
    const run = await apply({ 'folder:/d': {}, 'leaf:/d/x': {}, 'folder:/n': {}, 'step:/n/s': {} }, (root) => {
      mkdirSync(path.join(root, 'elsewhere'));
      writeFileSync(path.join(root, 'elsewhere/x'), '');
      symlinkSync(path.join(root, 'elsewhere'), path.join(root, 'd'));
    });
    expect(run.byId['folder:/d']?.status).toBe('changed');
    // Re-gathered after the folder's fix: missing now, so fixed.
    expect(run.byId['leaf:/d/x']?.status).toBe('changed');
    expect(existsSync(run.at('d/x'))).toBe(true);
    expect(run.byId['step:/n/s']?.status).toBe('changed');
    // gather; take + both folders; confirm (+ read x and s); fix x and s; confirm + release.
    expect(run.execs).toBe(4);
  });

  it('under apply -i, asks about each item in its own wave, in dependency order', async () => {
    const asked: string[] = [];
    const run = await apply({ 'folder:/d': {}, 'leaf:/d/a': {} }, undefined, (_host, result) => {
      asked.push(result.id);
      return Promise.resolve(true);
    });
    expect(asked).toEqual(['folder:/d', 'leaf:/d/a']);
    expect(run.byId['leaf:/d/a']?.status).toBe('changed');
    // gather; take + the folder, confirmed in the same batch (+ read a); fix a, confirm + release.
    expect(run.execs).toBe(3);
  });
});
