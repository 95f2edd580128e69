// One truth for counts: for each run below, the item lines on screen, the summary
// line and `--json` agree, item by item and status by status.
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ItemStatus, RunResult } from '@fettle/core';
import { removedAfterAll, runInProcess, sitesRoot } from './test-sites.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const made = removedAfterAll();
const plugin = (name: string): string => pathToFileURL(path.resolve(here, `../../../plugins/${name}/dist/index.js`)).href;

function site(hosts: string, role: string): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'counts-'));
  made.push(dir);
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite, definePlugin, defineTransport, z } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import actions from '${plugin('items-action')}';

// A host that accepts the connection, then refuses every command (sudo asking for a password).
const refuse = () => Promise.reject(new Error('sudo: a terminal is required to read the password'));
const sudoless = definePlugin({
  name: 'sudoless',
  transports: [defineTransport({ name: 'sudoless', description: 'refuses every command', options: z.object({}).passthrough(),
    connect: async () => ({ root: '/', exec: refuse, readFile: refuse, writeFile: refuse, stat: refuse, close: async () => undefined }) })],
});

export default defineSite({
  plugins: [files, local, actions, sudoless],
  hosts: new MemoryHostStore({ hosts: ${hosts}, defaultRoles: ['base'] }),
  roles: { base: ${role} },
});
`,
  );
  return dir;
}

async function fettle(args: readonly string[]): Promise<{ code: number; stdout: string }> {
  const { code, stdout } = await runInProcess([...args, '--verbose']);
  return { code, stdout };
}

/** The status an item line on screen says, from its word. */
function lineStatus(word: string): ItemStatus {
  if (/^(created|changed|deleted)$/.test(word)) return 'changed';
  if (word.startsWith('would ')) return 'wouldChange';
  if (word.startsWith('runs if triggered')) return 'ifTriggered';
  if (word.startsWith('drift')) return 'drift';
  if (word.startsWith('failed')) return 'failed';
  if (word.startsWith('skipped')) return 'skipped';
  if (word === 'ok') return 'ok';
  throw new Error(`unknown item line word: ${word}`);
}

const WORDS: Record<string, ItemStatus> = { changed: 'changed', 'would change': 'wouldChange', 'runs if triggered': 'ifTriggered', drift: 'drift', ok: 'ok', failed: 'failed', skipped: 'skipped' };

/**
 * Run in text and with --json (on a copy of the site and its sandboxes, so both
 * start from the same state); check lines, summary line and JSON agree.
 */
async function agreeing(command: string, dir: string): Promise<{ run: RunResult; code: number; text: string }> {
  const twin = mkdtempSync(path.join(sitesRoot, 'counts-twin-'));
  made.push(twin);
  cpSync(dir, twin, { recursive: true });
  const text = await fettle([command, '--site', dir]);
  const json = await fettle([command, '--site', twin, '--json']);
  expect(json.code).toBe(text.code);
  const run = JSON.parse(json.stdout) as RunResult;

  const fromLines: Record<string, ItemStatus> = {};
  for (const line of text.stdout.split('\n')) {
    const match = /^(\S+) {2}\S (\S+) {2}(.*)$/.exec(line);
    if (match) fromLines[`${match[1]} ${match[2]}`] = lineStatus(match[3] ?? '');
  }
  const fromJson: Record<string, ItemStatus> = {};
  for (const host of run.hosts) for (const item of host.items) fromJson[`${host.host} ${item.id}`] = item.status;
  expect(fromLines).toEqual(fromJson);

  const summaryLine = /summary: (.*) \(\d+ hosts?/.exec(text.stdout)?.[1] ?? '';
  for (const part of summaryLine.split(', ')) {
    const [, count, word] = /^(\d+) (.+)$/.exec(part) ?? [];
    if (word === 'unreachable') expect(Number(count)).toBe(run.summary.unreachable);
    else expect(Number(count), part).toBe(run.summary[WORDS[word ?? ''] ?? 'ok']);
  }
  for (const status of Object.keys(WORDS).map((word) => WORDS[word] as ItemStatus)) {
    expect(run.summary[status], status).toBe(Object.values(fromJson).filter((value) => value === status).length);
  }
  return { run, code: text.code, text: text.stdout };
}

describe('counts agree across the lines, the summary and --json', () => {
  it('a host failing before its items (sudo wants a password): every item counts as failed', async () => {
    const dir = site(`{ web1: { transport: 'sudoless' }, web2: { transport: 'local', transportOptions: { root: 'sandbox/web2' } } }`, `() => ({
      items: { 'directory:/etc': {}, 'file:/etc/a': { content: 'a' }, 'file:/etc/b': { content: 'b' }, 'directory:/etc/c': {}, 'file:/etc/d': { content: 'd' } },
      tasks: [{ id: 'setup', description: 'a setup task', hash: () => '1', run: async () => undefined }],
    })`);
    const { run, code, text } = await agreeing('apply', dir);
    expect(code).toBe(1);
    const web1 = run.hosts.find((host) => host.host === 'web1');
    expect(web1?.status).toBe('failed');
    // The host failed before its items (its lock could not be read): every item counts as failed, none is lost.
    expect(web1?.items.map((item) => [item.id, item.status]).sort()).toEqual([
      ['directory:/etc', 'failed'],
      ['directory:/etc/c', 'failed'],
      ['file:/etc/a', 'failed'],
      ['file:/etc/b', 'failed'],
      ['file:/etc/d', 'failed'],
    ]);
    expect(web1?.items[0]?.error).toMatch(/not run: .*sudo: a terminal is required/);
    expect(run.summary.failed).toBe(5);
    expect(text).toMatch(new RegExp(`summary: \\d+ changed, \\d+ ok, ${run.summary.failed} failed`));
  });

  it('a readonly host says "would change" and changes nothing', async () => {
    const dir = site(`{ ro1: { transport: 'local', transportOptions: { root: 'sandbox/ro1' }, readonly: true } }`, `() => ({ 'file:/etc/motd': { content: 'hello' } })`);
    const { run, code, text } = await agreeing('apply', dir);
    expect(code).toBe(0);
    expect(run.hosts[0]?.items[0]).toMatchObject({ id: 'file:/etc/motd', status: 'wouldChange', action: 'create' });
    expect(run.summary).toMatchObject({ changed: 0, wouldChange: 1 });
    expect(text).toContain('would create');
    expect(text).toMatch(/summary: 0 changed, 1 would change, 0 ok/);
  });

  it('plan says a triggered action "runs if triggered" when its trigger would change, "skipped" otherwise', async () => {
    const dir = site(`{ web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }`, `() => ({
      'directory:/etc': {},
      'file:/etc/app.conf': { content: 'v1', triggers: ['action:reload'] },
      'action:reload': { command: 'true', triggered: true, triggers: ['action:notify'] },
      'action:notify': { command: 'true', triggered: true },
      'action:unrelated': { command: 'true', triggered: true },
    })`);
    const { run, text } = await agreeing('plan', dir);
    const byId = Object.fromEntries((run.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(byId['file:/etc/app.conf']?.status).toBe('wouldChange');
    expect(byId['action:reload']).toMatchObject({ status: 'ifTriggered', reason: 'runs if triggered: file:/etc/app.conf would change' });
    expect(byId['action:notify']).toMatchObject({ status: 'ifTriggered', reason: 'runs if triggered: action:reload would change' });
    expect(byId['action:unrelated']).toMatchObject({ status: 'skipped' });
    expect(text).toMatch(/summary: 2 would change, 2 runs if triggered, 0 ok, 0 failed, 1 skipped/);
    // And apply does run them.
    const applied = await agreeing('apply', dir);
    expect(applied.run.hosts[0]?.items.filter((item) => item.status === 'changed').map((item) => item.id).sort()).toEqual(['action:notify', 'action:reload', 'directory:/etc', 'file:/etc/app.conf']);
  });

  it('verify says "drift", exit 1, with full hashes in JSON', async () => {
    const dir = site(`{ web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }`, `() => ({ 'directory:/etc': {}, 'file:/etc/motd': { content: 'hello' } })`);
    expect((await fettle(['apply', '--site', dir])).code).toBe(0);
    writeFileSync(path.join(dir, 'sandbox/web1/etc/motd'), 'edited by hand\n');
    const { run, code, text } = await agreeing('verify', dir);
    expect(code).toBe(1);
    const item = run.hosts[0]?.items.find((entry) => entry.id === 'file:/etc/motd');
    expect(item?.status).toBe('drift');
    expect(run.summary).toMatchObject({ drift: 1, changed: 0 });
    expect(text).toMatch(/summary: 1 drift, 1 ok/);
    const hashes = (item?.diff ?? []).find((line) => line.key === 'sha256');
    expect(hashes?.want).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashes?.have).toMatch(/^sha256:[0-9a-f]{64}$/);
    // On screen, 16 digits say enough.
    expect(text).toMatch(/sha256:[0-9a-f]{16}… → sha256:[0-9a-f]{16}…/);
  });
});
