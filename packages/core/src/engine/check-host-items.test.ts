import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType } from '../protocols/item.js';
import { definePlugin } from '../protocols/plugin.js';
import type { SiteConfig } from '../protocols/site.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { Redactor } from '../redact.js';
import { FettleError, formatError } from '../errors.js';
import { buildHostItems, checkHostItems } from './items.js';

/** An item type whose check does what `how` says: nothing, throw at once, or reject later. */
const probe = defineItemType({
  name: 'probe',
  attributes: z.strictObject({ how: z.enum(['fine', 'sync-ok', 'throws', 'rejects', 'input']) }),
  check(item) {
    if (item.attrs.how === 'sync-ok') return undefined;
    if (item.attrs.how === 'throws') throw new Error('thrown at once');
    if (item.attrs.how === 'rejects') return new Promise((_resolve, reject) => setTimeout(() => reject(new Error('rejected later')), 5));
    if (item.attrs.how === 'input') return Promise.reject(new FettleError('E_REFERENCE', 'no such source', { where: "attribute 'source'" }));
    return Promise.resolve();
  },
  cdict: () => ({}),
  sdict: () => Promise.resolve({}),
  fix: () => Promise.resolve(),
});

async function check(items: Record<string, { how: string }>): Promise<unknown> {
  const plugins = [definePlugin({ name: 'fettle-plugin-probe', itemTypes: [probe] })];
  const site: SiteConfig = { plugins, hosts: new MemoryHostStore({ hosts: { web1: {} }, defaultRoles: ['base'] }), roles: { base: () => items } };
  const [host] = await site.hosts.listHosts();
  const built = await buildHostItems(host!, site, new Registry(plugins), new Redactor());
  return checkHostItems(built, site, '/site', new Redactor(), { locateRole: () => 'fettle.config.ts:7' }).then(
    () => 'passed',
    (error: unknown) => error,
  );
}

describe('checkHostItems', () => {
  it('passes when every check passes, whether it returns a promise or nothing', async () => {
    expect(await check({ 'probe:a': { how: 'fine' }, 'probe:b': { how: 'sync-ok' } })).toBe('passed');
  });

  it('names host, role, place and item of a check that throws, or rejects later, among ones that pass', async () => {
    for (const how of ['throws', 'rejects']) {
      const error = await check({ 'probe:ok': { how: 'fine' }, 'probe:bad': { how }, 'probe:after': { how: 'sync-ok' } });
      expect(error).toBeInstanceOf(FettleError);
      expect((error as FettleError).code).toBe('E_ATTRIBUTE');
      expect(formatError(error)).toContain(how === 'throws' ? 'thrown at once' : 'rejected later');
      expect((error as FettleError).where).toBe('host web1, role base (fettle.config.ts:7), item probe:bad');
    }
  });

  it("keeps an input error's code and place, with the item's after it", async () => {
    const error = (await check({ 'probe:src': { how: 'input' } })) as FettleError;
    expect(error.code).toBe('E_REFERENCE');
    expect(error.where).toBe("attribute 'source', host web1, role base (fettle.config.ts:7), item probe:src");
  });
});

describe('buildHostItems with a quickParse', () => {
  /** A type whose quickParse takes `{ n: number }` only, marking what it made; the schema does the rest. */
  const counted = defineItemType({
    name: 'counted',
    attributes: z.strictObject({ n: z.number().int().default(1) }),
    quickParse: (input) => (typeof input.n === 'number' && Number.isInteger(input.n) && Object.keys(input).length === 1 ? quick({ n: input.n }) : undefined),
    cdict: () => ({}),
    sdict: () => Promise.resolve({}),
    fix: () => Promise.resolve(),
  });
  const made = new WeakSet<object>();
  const quick = <T extends object>(value: T): T => {
    made.add(value);
    return value;
  };
  const build = async (items: Record<string, Record<string, unknown>>) => {
    const plugins = [definePlugin({ name: 'fettle-plugin-counted', itemTypes: [counted] })];
    const site: SiteConfig = { plugins, hosts: new MemoryHostStore({ hosts: { web1: {} }, defaultRoles: ['base'] }), roles: { base: () => items } };
    const [host] = await site.hosts.listHosts();
    return buildHostItems(host!, site, new Registry(plugins), new Redactor());
  };

  it("uses the quick result when there is one, and the schema (defaults, errors) when it declines", async () => {
    const built = await build({ 'counted:a': { n: 3 }, 'counted:b': {}, 'counted:c': { n: 4, needs: ['counted:a'] } });
    const [a, b, c] = built.items;
    expect(a?.attrs).toEqual({ n: 3 });
    expect(made.has(a?.attrs as object)).toBe(true);
    expect(b?.attrs).toEqual({ n: 1 });
    expect(made.has(b?.attrs as object)).toBe(false);
    // Common attributes are split off before: the type sees only its own.
    expect(made.has(c?.attrs as object)).toBe(true);
    expect(c?.common.needs).toEqual(['counted:a']);
    const error = await build({ 'counted:bad': { n: 1.5 } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FettleError);
    expect(formatError(error)).toContain("attribute 'n'");
    expect((error as FettleError).where).toBe('host web1, role base, item counted:bad');
  });
});
