import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineItemType, type ItemMap } from '../protocols/item.js';
import { defineFact } from '../protocols/fact.js';
import { arg, joinShell, sh } from '../protocols/shell.js';
import { definePlugin } from '../protocols/plugin.js';
import { defineSite, type Role, type SiteConfig } from '../protocols/site.js';
import { secret, type SecretStore } from '../protocols/secrets.js';
import { MemoryHostStore } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { runSite } from './engine.js';
import { isFettleError } from '../errors.js';
import { UnreachableError, type ConnectContext } from '../protocols/transport.js';
import type { Host } from '../protocols/host.js';
import { shellTransport } from '../test-support.js';
import type { RunMode } from './results.js';

/** In-memory "host state" and a log of fix start/end times, per test. */
function world() {
  const state = new Map<string, string>();
  const spans: { id: string; start: number; end: number }[] = [];
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const make = (name: string, options: { blockConcurrent?: string[]; delay?: number; fail?: (id: string) => boolean } = {}) =>
    defineItemType({
      name,
      attributes: z.strictObject({ value: z.string().default('on'), size: z.number().optional() }),
      blockConcurrent: options.blockConcurrent,
      cdict: (item) => ({ value: item.attrs.value }),
      sdict: (item) => Promise.resolve(state.has(item.id) ? { value: state.get(item.id) } : null),
      async fix(_change, item) {
        const start = performance.now();
        await sleep(options.delay ?? 5);
        if (options.fail?.(item.id)) throw new Error(`boom in ${item.id}`);
        state.set(item.id, item.attrs.value);
        spans.push({ id: item.id, start, end: performance.now() });
      },
    });
  return { state, spans, make };
}

function site(itemTypes: ReturnType<ReturnType<typeof world>['make']>[], items: ItemMap, extra: Partial<SiteConfig> = {}): SiteConfig {
  const role: Role = () => items;
  return defineSite({
    plugins: [definePlugin({ name: 'test-items', itemTypes }), definePlugin({ name: 'test-transport', transports: [shellTransport()] })],
    hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
    roles: { r: role },
    ...extra,
  });
}

async function run(config: SiteConfig, mode: RunMode = 'apply') {
  return runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode });
}

const order = (spans: { id: string }[]) => spans.map((span) => span.id);

describe('engine ordering', () => {
  it('follows needs, needed_by and triggers', async () => {
    const w = world();
    const t = w.make('t');
    const result = await run(
      site([t], {
        't:c': { needs: ['t:b'] },
        't:b': { needs: ['t:a'] },
        't:a': {},
        't:z': { needed_by: ['t:a'] },
        't:after': { triggered: true, needs: [] },
        't:x': { needs: ['t:c'], triggers: ['t:after'] },
      }),
    );
    expect(result.summary).toMatchObject({ changed: 6, failed: 0, skipped: 0 });
    const ids = order(w.spans);
    const before = (a: string, b: string) => expect(ids.indexOf(a)).toBeLessThan(ids.indexOf(b));
    before('t:z', 't:a');
    before('t:a', 't:b');
    before('t:b', 't:c');
    before('t:c', 't:x');
    before('t:x', 't:after');
  });

  it('runs a triggered item only when its trigger changed', async () => {
    const w = world();
    const t = w.make('t');
    w.state.set('t:source', 'on'); // already right: will not change, so no trigger
    const result = await run(site([t], { 't:source': { triggers: ['t:reload'] }, 't:reload': { triggered: true } }));
    expect(result.hosts[0]?.items.find((item) => item.id === 't:reload')).toMatchObject({ status: 'skipped', reason: 'not triggered' });
    expect(w.spans).toHaveLength(0);
  });

  it('rejects a cycle and names its items', async () => {
    const w = world();
    const t = w.make('t');
    const error = await run(site([t], { 't:a': { needs: ['t:b'] }, 't:b': { needs: ['t:c'] }, 't:c': { needs: ['t:a'] } })).catch((e: unknown) => e);
    expect(isFettleError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/dependency cycle: t:a -> t:b -> t:c -> t:a/);
    expect(w.spans).toHaveLength(0);
  });

  it('never overlaps blockConcurrent items and overlaps independent ones', async () => {
    const w = world();
    const serial = w.make('serial', { blockConcurrent: ['serial'], delay: 60 });
    const parallel = w.make('parallel', { delay: 60 });
    await run(site([serial, parallel], { 'serial:one': {}, 'serial:two': {}, 'parallel:one': {}, 'parallel:two': {} }));
    const span = (id: string) => w.spans.find((s) => s.id === id) as { start: number; end: number };
    const overlaps = (a: string, b: string) => span(a).start < span(b).end && span(b).start < span(a).end;
    expect(overlaps('serial:one', 'serial:two')).toBe(false);
    expect(overlaps('parallel:one', 'parallel:two')).toBe(true);
  });

  it('skips exactly the dependents of a failed item', async () => {
    const w = world();
    const t = w.make('t', { fail: (id) => id === 't:bad' });
    const result = await run(
      site([t], {
        't:bad': {},
        't:child': { needs: ['t:bad'] },
        't:grandchild': { needs: ['t:child'] },
        't:independent': {},
        't:other': { needs: ['t:independent'] },
      }),
    );
    const status = Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item.status]));
    expect(status).toEqual({ 't:bad': 'failed', 't:child': 'skipped', 't:grandchild': 'skipped', 't:independent': 'changed', 't:other': 'changed' });
    expect(result.hosts[0]?.items.find((i) => i.id === 't:bad')?.error).toContain('boom in t:bad');
  });

  it('plan and verify change nothing; a second apply changes nothing', async () => {
    const w = world();
    const t = w.make('t');
    const config = site([t], { 't:a': {}, 't:b': { value: 'x' } });
    expect((await run(config, 'plan')).summary).toMatchObject({ wouldChange: 2, ok: 0 });
    expect((await run(config, 'verify')).summary).toMatchObject({ drift: 2 });
    expect(w.spans).toHaveLength(0);
    await run(config, 'apply');
    const second = await run(config, 'apply');
    expect(second.summary).toMatchObject({ changed: 0, ok: 2, failed: 0 });
    expect(w.spans).toHaveLength(2);
  });

  it('computes the detail (a content diff) only when asked: plan and apply by default, never with details: false', async () => {
    const w = world();
    let detailCalls = 0;
    const base = w.make('t');
    const t = { ...base, diffDetail: () => Promise.resolve(`+diff ${String(++detailCalls)}`) };
    const config = site([t], { 't:a': {}, 't:b': { value: 'x' } });
    const runWith = async (mode: RunMode, details?: boolean) =>
      runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode, details });
    const quiet = await runWith('plan', false);
    expect(quiet.hosts[0]?.items.map((item) => item.detail)).toEqual([undefined, undefined]);
    expect(detailCalls).toBe(0);
    const plan = await runWith('plan');
    expect(plan.hosts[0]?.items.every((item) => item.detail?.startsWith('+diff'))).toBe(true);
    expect(detailCalls).toBe(2);
    const cold = await runWith('apply', false);
    expect(cold.summary).toMatchObject({ changed: 2 });
    expect(cold.hosts[0]?.items.map((item) => [item.detail, item.diff?.length])).toEqual([
      [undefined, 1],
      [undefined, 1],
    ]);
    expect(detailCalls).toBe(2);
  });
});

describe('engine waves', () => {
  it("reads the next wave's state in the same batch as this wave's confirm: a chain of 3 costs 7 commands, not 9, and sees what earlier fixes did", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-waves-'));
    const marker = defineFact<string, boolean>({
      name: 'test.marker',
      command: (names) => joinShell(names.map((name) => sh`if [ -e ${arg(path.join(dir, name))} ]; then echo yes; else echo no; fi`), '\n'),
      parse: (stdout) => stdout.trim().split('\n').map((line) => line === 'yes'),
    });
    const fixed: string[] = [];
    const step = defineItemType({
      name: 'step',
      attributes: z.strictObject({ alsoMakes: z.string().optional() }),
      cdict: () => ({ present: true }),
      sdict: async (item, context) => ((await context.fact(marker, item.name)) ? { present: true } : null),
      async fix(_change, item, context) {
        fixed.push(item.name);
        await context.runChecked(joinShell([item.name, item.attrs.alsoMakes ?? item.name].map((name) => sh`touch ${arg(path.join(dir, name))}`), ' && '));
      },
    });
    const counter = { execs: 0 };
    // a's fix also makes b: b, gathered with a's confirm, is already right and never fixed.
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [step], transports: [shellTransport(counter)] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'step:a': { alsoMakes: 'b' }, 'step:b': { needs: ['step:a'] }, 'step:c': { needs: ['step:b'] }, 'step:d': { needs: ['step:c'] } }) },
    });
    try {
      const result = await runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode: 'apply', lock: { enabled: false } });
      expect(Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item.status]))).toEqual({ 'step:a': 'changed', 'step:b': 'ok', 'step:c': 'changed', 'step:d': 'changed' });
      expect(fixed).toEqual(['a', 'c', 'd']);
      // gather; a: fix, confirm + read b; c: fix, confirm + read d; d: fix, confirm. No wave re-gathers on its own.
      expect(counter.execs).toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine confirm step', () => {
  it('takes the state a fix reports instead of reading it back', async () => {
    let reads = 0;
    const once = defineItemType({
      name: 'once',
      attributes: z.strictObject({}),
      cdict: () => ({ done: true }),
      sdict: () => {
        reads++;
        return Promise.resolve({ done: false });
      },
      fix: () => Promise.resolve({ done: true }),
    });
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [once], transports: [shellTransport()] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'once:a': {} }) },
    });
    const result = await run(config, 'apply');
    expect(result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(reads).toBe(1);
  });

  it('fails an item whose fix did not converge', async () => {
    const stubborn = defineItemType({
      name: 'stubborn',
      attributes: z.strictObject({}),
      cdict: () => ({ value: 'on' }),
      sdict: () => Promise.resolve({ value: 'off' }),
      fix: () => Promise.resolve(),
    });
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [stubborn], transports: [shellTransport()] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'stubborn:a': {} }) },
    });
    const result = await run(config, 'apply');
    expect(result.hosts[0]?.items[0]).toMatchObject({ status: 'failed', error: 'still differs after fix: value' });
  });
});

describe('engine batching', () => {
  it('gathers the facts of 200 items in one remote command', async () => {
    const counter = { execs: 0 };
    const echo = defineFact<string, string>({
      name: 'test.echo',
      command: (queries) => joinShell(queries.map((q) => sh`echo ${arg(q)}`), '\n'),
      parse: (stdout) => stdout.trim().split('\n'),
    });
    const other = defineFact<string, string>({
      name: 'test.other',
      command: (queries) => joinShell(queries.map((q) => sh`echo other-${arg(q)}`), '\n'),
      parse: (stdout) => stdout.trim().split('\n'),
    });
    const probe = defineItemType({
      name: 'probe',
      attributes: z.strictObject({}),
      cdict: (item) => ({ seen: item.name, also: `other-${item.name}` }),
      sdict: async (item, context) => ({ seen: await context.fact(echo, item.name), also: await Promise.resolve(context.fact(other, item.name)) }),
      fix: () => Promise.resolve(),
    });
    const items = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`probe:n${i}`, {}]));
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [probe], transports: [shellTransport(counter)] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => items },
    });
    const result = await run(config, 'verify');
    expect(result.summary).toMatchObject({ ok: 200, changed: 0, failed: 0 });
    // Each item asks `echo` and then `other`: two ticks, two batches, whatever the item count.
    expect(counter.execs).toBe(2);
    expect(result.hosts[0]?.roundTrips.execs).toBe(2);
  });

  it('gives every host of a run the same run scope to cache on, and the next run another', async () => {
    const scopes: unknown[] = [];
    const inner = shellTransport();
    const watching = { ...inner, connect: (host: Host, options: unknown, context: ConnectContext) => (scopes.push(context.runScope), inner.connect(host, options, context)) };
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', transports: [watching] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' }, h2: { transport: 'sh' }, h3: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({}) },
    });
    await run(config, 'verify');
    await run(config, 'verify');
    expect(scopes).toHaveLength(6);
    expect(typeof scopes[0]).toBe('object');
    expect(new Set(scopes.slice(0, 3)).size).toBe(1);
    expect(new Set(scopes.slice(3)).size).toBe(1);
    expect(scopes[3]).not.toBe(scopes[0]);
  });
});

describe('engine secrets', () => {
  it('never shows a secret value in results or events', async () => {
    const w = world();
    const t = w.make('t');
    const store: SecretStore = {
      describe: 'test',
      list: () => Promise.resolve(['db']),
      get: () => Promise.resolve('hunter2-very-secret'),
      set: () => Promise.resolve(),
    };
    const config = site([t], { 't:a': { value: secret('db') } }, { secrets: store });
    const events: unknown[] = [];
    const result = await runSite({
      site: config,
      siteDir: '/tmp',
      registry: new Registry(config.plugins),
      hosts: await config.hosts.listHosts(),
      mode: 'plan',
      emit: (event) => events.push(event),
    });
    const text = JSON.stringify({ result, events });
    expect(text).not.toContain('hunter2');
    expect(text).toContain('<secret:db>');
  });
});

describe('engine faults', () => {
  it('starts no item after the signal aborts, and reports the rest skipped as interrupted', async () => {
    const w = world();
    const controller = new AbortController();
    const t = w.make('t', { delay: 30 });
    const items: ItemMap = { 't:a': {}, 't:b': { needs: ['t:a'] }, 't:c': { needs: ['t:b'] } };
    const config = site([t], items);
    const starts: { id: string; at: number }[] = [];
    let abortedAt = 0;
    const result = await runSite({
      site: config,
      siteDir: '/tmp',
      registry: new Registry(config.plugins),
      hosts: await config.hosts.listHosts(),
      mode: 'apply',
      signal: controller.signal,
      emit: (event) => {
        if (event.type === 'item-start') starts.push({ id: event.id, at: performance.now() });
        if (event.type === 'item-done' && event.result.id === 't:a') {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    expect(starts.map((start) => start.id)).toEqual(['t:a']);
    expect(starts.every((start) => start.at < abortedAt)).toBe(true);
    const byId = Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(byId['t:a']).toMatchObject({ status: 'changed' });
    expect(byId['t:b']).toMatchObject({ status: 'skipped', reason: 'interrupted' });
    expect(byId['t:c']).toMatchObject({ status: 'skipped', reason: 'interrupted' });
    expect(w.state.has('t:b')).toBe(false);
  });

  it('reports a host whose connection is lost as unreachable with its results so far, and the others in full', async () => {
    const counter = { execs: 0 };
    const local = shellTransport(counter);
    const dying: typeof local = {
      ...local,
      name: 'dying',
      async connect(host, options, context) {
        const inner = await local.connect(host, options, context);
        return { ...inner, exec: () => Promise.reject(new UnreachableError('lost', `${host.name}: the SSH connection was lost (test)`)) };
      },
    };
    const echo = defineFact<string, string>({ name: 'test.echo2', command: (qs) => joinShell(qs.map((q) => sh`echo ${arg(q)}`), '\n'), parse: (out) => out.trim().split('\n') });
    const probe = defineItemType({
      name: 'probe',
      attributes: z.strictObject({}),
      cdict: (item) => ({ seen: item.name }),
      sdict: async (item, context) => ({ seen: await context.fact(echo, item.name) }),
      fix: () => Promise.resolve(),
    });
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [probe], transports: [local, dying] })],
      hosts: new MemoryHostStore({ hosts: { good: { transport: 'sh' }, bad: { transport: 'dying' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'probe:a': {}, 'probe:b': { needs: ['probe:a'] } }) },
    });
    const result = await run(config, 'apply');
    const good = result.hosts.find((host) => host.host === 'good');
    const bad = result.hosts.find((host) => host.host === 'bad');
    expect(good).toMatchObject({ status: 'ok' });
    expect(bad).toMatchObject({ status: 'unreachable', reason: 'lost' });
    expect(bad?.error).toMatch(/connection lost .*s into the run .*the SSH connection was lost/);
    // Lost during the gather: no wave starts, every item says why.
    expect(bad?.items.map((item) => [item.id, item.status, item.reason])).toEqual([
      ['probe:a', 'skipped', 'connection lost'],
      ['probe:b', 'skipped', 'connection lost'],
    ]);
    expect(result.summary).toMatchObject({ unreachable: 1, hosts: 2 });
  });
});

describe('engine secrets by every route', () => {
  const PEM = '-----BEGIN TEST KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\nAgEAAkEAq7BFUpkGp3+LQmlQ\n-----END TEST KEY-----';
  const store = (values: Record<string, string>): SecretStore => ({
    describe: 'test',
    list: () => Promise.resolve(Object.keys(values)),
    get: (name) => Promise.resolve(values[name] ?? ''),
    set: () => Promise.resolve(),
  });

  it('resolves a secret inside a string, and the item shows neither content nor the host value after a rotation', async () => {
    const w = world();
    const t = w.make('t');
    // What the host has: the previous value of the secret.
    w.state.set('t:conf', 'key=old-secret-value-1234');
    const config = site([t], { 't:conf': { value: `key=${String(secret('pem'))}` } }, { secrets: store({ pem: PEM }) });
    const events: unknown[] = [];
    const result = await runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode: 'plan', emit: (event) => events.push(event) });
    const item = result.hosts[0]?.items[0];
    expect(item?.status).toBe('wouldChange');
    expect(item?.detail).toBe('content: <secret content changed>');
    expect(item?.diff?.[0]?.want).toBe('key=<secret:pem>');
    expect(item?.diff?.[0]?.have).toMatch(/^hash:[0-9a-f]{12}…$/);
    const text = JSON.stringify({ result, events });
    expect(text).not.toContain('old-secret-value');
    for (const line of PEM.split('\n')) expect(text).not.toContain(line);

    await run(config, 'apply');
    expect(w.state.get('t:conf')).toBe(`key=${PEM}`);
  });

  it('quotes no part of a secret in a validation error', async () => {
    const w = world();
    const t = w.make('t');
    const config = site([t], { 't:a': { size: secret('pem') } }, { secrets: store({ pem: PEM }) });
    const error = await run(config, 'plan').catch((caught: unknown) => caught);
    expect(isFettleError(error) && error.code).toBe('E_ATTRIBUTE');
    const message = (error as Error).message;
    expect(message).toContain('<secret:pem>');
    expect(message).not.toContain('BEGIN TEST KEY');
    expect(message).not.toContain('MIIBVgIB');
  });

  it('marks an item that reads a secret through its context, and shows no content diff for it', async () => {
    const state = new Map<string, string>([['probe:x', 'old']]);
    const probe = defineItemType({
      name: 'probe',
      attributes: z.strictObject({}),
      cdict: async (_item, context) => ({ value: await context.secret('pem') }),
      sdict: (item) => Promise.resolve(state.has(item.id) ? { value: state.get(item.id) } : null),
      diffDetail: () => Promise.resolve('would show content'),
      fix: () => Promise.resolve(),
    });
    const config = defineSite({
      plugins: [definePlugin({ name: 'p', itemTypes: [probe], transports: [shellTransport()] })],
      hosts: new MemoryHostStore({ hosts: { h1: { transport: 'sh' } }, defaultRoles: ['r'] }),
      roles: { r: () => ({ 'probe:x': {} }) },
      secrets: store({ pem: PEM }),
    });
    const result = await run(config, 'plan');
    const item = result.hosts[0]?.items[0];
    expect(item?.detail).toBe('content: <secret content changed>');
    expect(JSON.stringify(result)).not.toContain('MIIBVgIB');
  });
});
