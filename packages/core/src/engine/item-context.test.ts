import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { writeFileAtomic } from '../local-files.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { defineItemType } from '../protocols/item.js';
import { definePlugin } from '../protocols/plugin.js';
import type { Transport, TransportDefinition } from '../protocols/transport.js';
import { Registry } from '../registry.js';
import { execSh } from '../test-support.js';
import { runSite } from './engine.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fettle-item-context-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** This machine under a root folder: real sh, real files written the way the local transport writes them. */
const rooted: TransportDefinition = {
  name: 'rooted',
  description: 'sh and files under a test root',
  options: z.object({}),
  connect: () =>
    Promise.resolve<Transport>({
      root,
      exec: (command, options = {}) => execSh(command, options.stdin),
      readFile: (file) => readFile(file).catch(() => null),
      writeFile: (file, data) => writeFileAtomic(file, data),
      stat: () => Promise.resolve(null),
      close: () => Promise.resolve(),
    }),
};

const note = defineItemType({
  name: 'note',
  attributes: z.strictObject({ parents: z.boolean() }),
  cdict: () => ({ written: true }),
  sdict: async (item, context) => ({ written: (await context.readFile(item.name)) !== null }),
  async fix(_change, item, context) {
    context.warn('the note is short');
    await context.writeFile(item.name, 'hello\n', { mode: '0644' }, { createParents: item.attrs.parents });
  },
});

async function apply(items: Record<string, { parents: boolean }>) {
  const plugins = [definePlugin({ name: 'test-notes', itemTypes: [note], transports: [rooted] })];
  const site = { plugins, hosts: new MemoryHostStore({ hosts: { h1: { transport: 'rooted' } }, defaultRoles: ['r'] }), roles: { r: () => items } };
  const warnings: string[] = [];
  const result = await runSite({ site, siteDir: root, registry: new Registry(plugins), hosts: await site.hosts.listHosts(), mode: 'apply', warn: (m) => warnings.push(m) });
  return { items: result.hosts[0]?.items ?? [], warnings };
}

describe('the item context', () => {
  it('writeFile creates missing parent folders when asked, and warn() reaches the run with host and item', async () => {
    const { items, warnings } = await apply({ 'note:/deep/er/note.txt': { parents: true } });
    expect(items[0]).toMatchObject({ status: 'changed' });
    expect(await readFile(path.join(root, 'deep/er/note.txt'), 'utf8')).toBe('hello\n');
    expect(warnings).toEqual(['h1: note:/deep/er/note.txt: the note is short']);
  });

  it('without createParents a missing folder fails the item, naming the file and never the temp file', async () => {
    const { items } = await apply({ 'note:/missing/note.txt': { parents: false } });
    expect(items[0]?.status).toBe('failed');
    expect(items[0]?.error).toContain(path.join(root, 'missing/note.txt'));
    expect(items[0]?.error).not.toMatch(/\.fettle-[0-9a-f]{12}/);
  });
});
