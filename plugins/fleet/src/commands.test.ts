import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isFettleError, FettleError, type CommandContext, type Host } from '@fettle/core';
import { afterAll, describe, expect, it } from 'vitest';
import plugin from './index.js';
import { fleetCommands, parseDuration } from './commands.js';
import type { HostReport } from './model.js';
import { Progress } from './progress.js';
import { checkJsonSchema, faultyConnect, host, registryConnect } from './test-helpers.js';

const siteDir = mkdtempSync(path.join(tmpdir(), 'fettle-fleet-commands-'));
afterAll(() => rmSync(siteDir, { recursive: true, force: true }));

const schema = JSON.parse(readFileSync(new URL('../schema/fleet-report.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const HOSTS: Host[] = [host('local1'), host('gone'), host('local2')];

/** A CommandContext as the CLI builds one, recording what the command prints. */
function context(name: string, args: string[], options: Record<string, unknown>, json = false, withConnect = true) {
  const out = { lines: [] as string[], errors: [] as string[], docs: [] as unknown[] };
  const ctx: CommandContext = {
    args,
    options,
    siteDir,
    site: () => Promise.reject(new Error('not needed')),
    connect: faultyConnect(registryConnect(), { gone: 'refused' }),
    selectHosts: (selector) => {
      const hosts = selector ? HOSTS.filter((h) => selector.split(',').includes(h.name)) : HOSTS;
      if (hosts.length === 0) return Promise.reject(new FettleError('E_SELECTOR', `'${selector ?? ''}' names no host`));
      return Promise.resolve(hosts);
    },
    out: { line: (t) => out.lines.push(t), json: (v) => out.docs.push(v), error: (t) => out.errors.push(t) },
    json,
    isTTY: false,
  };
  if (!withConnect) delete (ctx as Partial<CommandContext>).connect;
  const command = fleetCommands.find((c) => c.name === name);
  if (!command?.run) throw new Error(`no command ${name}`);
  const run = command.run.bind(command);
  return { run: () => run(ctx), out };
}

describe('fleet commands as the CLI runs them', () => {
  it('the plugin lists the five commands with their flags', () => {
    expect(plugin.name).toBe('@fettle/fleet');
    expect(plugin.commands?.map((c) => c.name)).toEqual(['discover', 'ping', 'updates', 'sync-repos', 'report']);
    const updates = plugin.commands?.find((c) => c.name === 'updates');
    expect(updates?.options?.map((o) => o.flags)).toEqual([
      '--security',
      '--refresh',
      '--stale-after <duration>',
      '--concurrency <n>',
      '--cache <file>',
      '--timeout <duration>',
    ]);
  });

  it('discover streams a line per host, then a summary; exit 2 with a host down', async () => {
    const { run, out } = context('discover', [], { concurrency: '2' });
    expect(await run()).toBe(2);
    expect(out.lines).toHaveLength(4);
    expect(out.lines.slice(0, 3).sort()).toEqual([
      'gone    unreachable  connection refused: gone: simulated refused',
      expect.stringMatching(/^local1 {2}ok {11}Debian GNU\/Linux 12 \(bookworm\) · \S+ · apt$/) as unknown,
      expect.stringMatching(/^local2 {2}ok {11}Debian/) as unknown,
    ]);
    expect(out.lines[3]).toBe('summary: 3 hosts: 2 ok, 1 unreachable, 0 failed, 0 skipped');
  });

  it('--json prints one document matching the published schema; a selector narrows the hosts', async () => {
    const { run, out } = context('ping', ['local1,local2'], {}, true);
    expect(await run()).toBe(0);
    expect(out.lines).toEqual([]);
    expect(out.docs).toHaveLength(1);
    expect(checkJsonSchema(schema, out.docs[0])).toEqual([]);
    expect(out.docs[0]).toMatchObject({ command: 'ping', summary: { hosts: 2, ok: 2 } });
  });

  it('report writes a self-contained HTML file from the cache, without contacting hosts', async () => {
    const file = path.join(siteDir, 'fleet.html');
    const { run, out } = context('report', [], { format: 'html', output: file });
    expect(await run()).toBe(0);
    expect(out.errors).toEqual([`wrote the html report to ${file}`]);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<b>local1</b>');
    expect(html).toContain('<span class="pill unreachable">unreachable</span>');
    const markdown = context('report', ['local1'], { format: 'markdown' });
    expect(await markdown.run()).toBe(0);
    expect(markdown.out.lines.join('\n')).toContain('# Fleet report');
  });

  it('bad input is an input error (CLI exit 3); a CLI without connect says what is missing', async () => {
    const errorOf = async (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
    const bad = await errorOf(context('updates', [], { concurrency: '0' }).run());
    expect(isFettleError(bad) && bad.isInputError && bad.message).toBe('--concurrency "0" is not a positive whole number');
    const format = await errorOf(context('report', [], { format: 'pdf' }).run());
    expect(isFettleError(format) && format.isInputError).toBe(true);
    const selector = await errorOf(context('ping', ['nope'], {}).run());
    expect(isFettleError(selector) && selector.code).toBe('E_SELECTOR');
    const old = await errorOf(context('ping', [], {}, false, false).run());
    expect(isFettleError(old) && old.hint).toMatch(/CommandContext.connect/);
    expect(parseDuration('24h', 'x')).toBe(86_400_000);
    expect(parseDuration('90', 'x')).toBe(90_000);
    expect(parseDuration('30m', 'x')).toBe(1_800_000);
    expect(() => parseDuration('soon', '--stale-after')).toThrow(/--stale-after 'soon' is not a duration/);
  });

  it('on a TTY a status line with counts is redrawn under the host lines', () => {
    const writes: string[] = [];
    const lines: string[] = [];
    const progress = new Progress('updates', ['a', 'bb'], { line: (t) => lines.push(t), live: { write: (t) => writes.push(t) } }, false);
    const report: HostReport = {
      ...{ name: 'a', status: 'ok', reason: null, message: null, source: 'live', online: true, stale: false, lastSeen: null, lastRefresh: null },
      ...{ durationMs: 1, latencyMs: null, discovery: null, updates: null, warnings: [] },
    };
    progress.onHost(report);
    progress.onHost({ ...report, name: 'bb', status: 'unreachable', reason: 'timeout', message: 'no answer' });
    progress.finish();
    expect(writes).toEqual(['updates 0/2 …', '\r\x1b[K', 'updates 1/2 · 1 ok …', '\r\x1b[K']);
    expect(lines).toEqual(['a   ok', 'bb  unreachable  timed out: no answer']);
    expect(new Progress('ping', ['a'], { line: () => undefined }, false).statusText()).toBe('ping 0/1');
  });
});
