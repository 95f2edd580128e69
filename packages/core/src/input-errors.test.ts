import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType } from './protocols/item.js';
import { definePlugin } from './protocols/plugin.js';
import { MemoryHostStore } from './memory-host-store.js';
import { Registry } from './registry.js';
import { selectHosts } from './selector.js';
import { buildHostItems } from './engine/items.js';
import { Redactor } from './redact.js';
import { FettleError, formatError } from './errors.js';
import type { SiteConfig } from './protocols/site.js';
import type { ItemMap } from './protocols/item.js';

const pkg = defineItemType({
  name: 'pkg',
  attributes: z.strictObject({ installed: z.boolean().default(true), version: z.string(), count: z.number().optional() }),
  cdict: () => ({}),
  sdict: () => Promise.resolve({}),
  fix: () => Promise.resolve(),
});

async function build(items: ItemMap): Promise<unknown> {
  const plugins = [definePlugin({ name: 'fettle-plugin-pkg', itemTypes: [pkg] })];
  const site: SiteConfig = {
    plugins,
    hosts: new MemoryHostStore({ hosts: { web1: {} }, defaultRoles: ['base'] }),
    roles: { base: () => items },
  };
  const [host] = await site.hosts.listHosts();
  return buildHostItems(host!, site, new Registry(plugins), new Redactor()).catch((error: unknown) => error);
}

function expectError(error: unknown, code: string, ...fragments: string[]): void {
  expect(error).toBeInstanceOf(FettleError);
  expect((error as FettleError).code).toBe(code);
  expect((error as FettleError).isInputError).toBe(true);
  const text = formatError(error);
  for (const fragment of fragments) expect(text).toContain(fragment);
}

describe('bad input names the place', () => {
  it('unknown item type', async () => {
    expectError(await build({ 'pkgg:nginx': { version: '1' } }), 'E_ITEM_TYPE', 'host web1, role base, item pkgg:nginx', "unknown item type 'pkgg'", 'one of pkg');
  });
  it('unknown attribute', async () => {
    expectError(await build({ 'pkg:nginx': { version: '1', instaled: true } }), 'E_ATTRIBUTE', 'item pkg:nginx', "unknown attribute 'instaled'");
  });
  it('missing required attribute', async () => {
    expectError(await build({ 'pkg:nginx': {} }), 'E_ATTRIBUTE', 'item pkg:nginx', "missing required attribute 'version'");
  });
  it('wrong attribute type', async () => {
    expectError(await build({ 'pkg:nginx': { version: '1', count: 'three' } }), 'E_ATTRIBUTE', "attribute 'count': expected number", 'the string "three"');
  });
  it('a dependency on a missing item', async () => {
    const { buildGraph } = await import('./engine/graph.js');
    const built = (await build({ 'pkg:a': { version: '1', needs: ['pkg:missing'] } })) as { items: Parameters<typeof buildGraph>[0] };
    expect(() => buildGraph(built.items, 'web1')).toThrow(/needs names 'pkg:missing', which is not an item of this host/);
  });
  it('two plugins giving one item type name both packages', () => {
    const error = (() => {
      try {
        return new Registry([definePlugin({ name: 'fettle-plugin-a', itemTypes: [pkg] }), definePlugin({ name: '@x/fettle-plugin-b', itemTypes: [pkg] })]);
      } catch (e) {
        return e;
      }
    })();
    expectError(error, 'E_PLUGIN', "item type 'pkg'", 'fettle-plugin-a', '@x/fettle-plugin-b');
  });
  it('a selector naming no host', async () => {
    const store = new MemoryHostStore({ hosts: { web1: {}, web2: {}, db1: {} }, groups: { web: ['web1', 'web2'] } });
    const hosts = await store.listHosts();
    const groups = await store.listGroups();
    expect(() => selectHosts('nope', hosts, groups)).toThrow(/'nope' names no host/);
    expect(() => selectHosts('group:nope', hosts, groups)).toThrow(/no group named 'nope'/);
    expect(selectHosts('group:web,!web2', hosts, groups).map((h) => h.name)).toEqual(['web1']);
    expect(selectHosts('web*', hosts, groups).map((h) => h.name)).toEqual(['web1', 'web2']);
    expect(selectHosts('web', hosts, groups).map((h) => h.name)).toEqual(['web1', 'web2']);
    expect(selectHosts('!db1', hosts, groups).map((h) => h.name)).toEqual(['web1', 'web2']);
    expect(selectHosts('db1,web2', hosts, groups).map((h) => h.name)).toEqual(['web2', 'db1']);
  });
  it('an inventory group naming an unknown host', () => {
    expect(() => new MemoryHostStore({ hosts: { a: {} }, groups: { g: ['b'] } })).toThrow(/group 'g' names unknown host 'b'/);
  });
});
