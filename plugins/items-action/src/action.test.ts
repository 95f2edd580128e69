import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factEnv, runItems, type ItemMap, type RunMode } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import sshTransport from '@fettle/transport-ssh';
import { sshdForTests, type SshdKit } from '@fettle/testkit';
import actionPlugin, { commandStatus } from './index.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fettle-action-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sshd = sshdForTests({ hosts: ['h1'] });
beforeAll(sshd.start);
afterAll(sshd.stop);

/** h1 over the local transport, or over SSH to the test kit's sshd (as this user, root). */
function apply(items: ItemMap, mode: RunMode = 'apply', kit?: SshdKit) {
  const host = kit ? kit.inventoryHost('h1') : { transport: 'local', transportOptions: { root: path.join(dir, 'root') } };
  return runItems({ plugins: [actionPlugin, localTransport, sshTransport], hostName: 'h1', host, items, mode, siteDir: dir });
}

/** A fresh scratch folder per test, and a log file commands append to. */
async function scratch(name: string) {
  const folder = path.join(dir, name);
  await run('mkdir', ['-p', folder]);
  const log = path.join(folder, 'log');
  await writeFile(log, '');
  const lines = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  return { folder, log, lines };
}

describe('action.status fact', () => {
  it('reports the exit code of each guard, a broken guard only breaking itself', async () => {
    const queries = ['true', 'exit 3', 'echo noise; echo more >&2; false', 'if then', 'cat'];
    const script = commandStatus.command(queries, factEnv()).text;
    const { stdout } = await run('sh', ['-c', script]);
    expect(commandStatus.parse(stdout, queries, factEnv())).toEqual([0, 3, 1, 2, 0]);
  });

  it('rejects output with a missing code', () => {
    expect(() => commandStatus.parse('R 0\n', ['true', 'true'], factEnv())).toThrow(/expected 2 exit codes/);
  });
});

describe('action item', () => {
  it('runs only while its unless fails; the second apply changes nothing', async () => {
    const s = await scratch('unless');
    const marker = path.join(s.folder, 'marker');
    const items: ItemMap = {
      'action:create-marker': { command: `echo ran >> ${s.log}; touch ${marker}`, unless: `test -f ${marker}` },
      'action:already-fine': { command: `echo never >> ${s.log}`, unless: 'true' },
    };
    const plan = await apply(items, 'plan');
    expect(plan.byId['action:create-marker']).toMatchObject({ status: 'wouldChange' });
    expect(plan.byId['action:create-marker']?.detail).toContain(`unless: test -f ${marker} (exited 1)`);
    expect(plan.byId['action:already-fine']).toMatchObject({ status: 'ok' });

    const first = await apply(items);
    expect(first.result.summary).toMatchObject({ changed: 1, ok: 1, failed: 0 });
    expect(await s.lines()).toEqual(['ran']);

    const second = await apply(items);
    expect(second.result.summary).toMatchObject({ changed: 0, ok: 2, failed: 0 });
    expect(await s.lines()).toEqual(['ran']);
  });

  it('without unless runs on every apply and passes the confirm step', async () => {
    const s = await scratch('always');
    const items: ItemMap = { 'action:always': { command: `echo ran >> ${s.log}` } };
    for (let round = 0; round < 2; round++) {
      const { byId } = await apply(items);
      expect(byId['action:always']).toMatchObject({ status: 'changed', action: 'change' });
    }
    expect(await s.lines()).toEqual(['ran', 'ran']);
    // plan only says it would run
    const plan = await apply(items, 'plan');
    expect(plan.byId['action:always']).toMatchObject({ status: 'wouldChange', diff: [{ key: 'done', want: 'done', have: 'to run' }] });
    expect(await s.lines()).toEqual(['ran', 'ran']);
  });

  it('runs triggered actions after their trigger changed, in dependency order, and only then', async () => {
    const s = await scratch('triggers');
    const config = path.join(s.folder, 'config');
    const items: ItemMap = {
      'action:write-config': {
        command: `echo write-config >> ${s.log}; touch ${config}`,
        unless: `test -f ${config}`,
        triggers: ['action:restart'],
      },
      'action:restart': { command: `echo restart >> ${s.log}`, triggered: true, triggers: ['action:notify'] },
      'action:notify': { command: `echo notify >> ${s.log}`, triggered: true },
      'action:late': { command: `echo late >> ${s.log}`, needs: ['action:restart'], unless: `test -f ${s.folder}/never` },
    };
    const first = await apply(items);
    expect(first.result.summary).toMatchObject({ changed: 4, failed: 0, skipped: 0 });
    expect(await s.lines()).toEqual(['write-config', 'restart', 'notify', 'late']);

    const second = await apply(items);
    expect(second.byId['action:write-config']).toMatchObject({ status: 'ok' });
    expect(second.byId['action:restart']).toMatchObject({ status: 'skipped', reason: 'not triggered' });
    expect(second.byId['action:notify']).toMatchObject({ status: 'skipped', reason: 'not triggered' });
    // a trigger that was not pulled does not block what needs the triggered item
    expect(second.byId['action:late']).toMatchObject({ status: 'changed' });
    expect(await s.lines()).toEqual(['write-config', 'restart', 'notify', 'late', 'late']);
  });

  it('fails with the command output when the exit code is not the expected one, and skips dependents', async () => {
    const s = await scratch('fail');
    const items: ItemMap = {
      'action:broken': { command: 'echo to-stdout; echo to-stderr >&2; exit 4' },
      'action:after': { command: `echo after >> ${s.log}`, needs: ['action:broken'] },
      'action:exit-two': { command: 'exit 2', expected_return_code: 2 },
    };
    const { byId, result } = await apply(items);
    expect(result.summary).toMatchObject({ failed: 1, skipped: 1, changed: 1 });
    const error = byId['action:broken']?.error ?? '';
    expect(error).toContain('command exited 4 (expected 0)');
    expect(error).toContain('stdout:\nto-stdout');
    expect(error).toContain('stderr:\nto-stderr');
    expect(byId['action:after']).toMatchObject({ status: 'skipped', reason: 'needs action:broken, which failed' });
    expect(await s.lines()).toEqual([]);
  });

  it('rejects an action without a command, naming the item', async () => {
    const error = await apply({ 'action:nothing': { unless: 'true' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_ATTRIBUTE', where: expect.stringContaining('item action:nothing') as unknown });
    expect(String(error)).toContain("missing required attribute 'command'");
  });

  it('over SSH: 20 guards cost one exec; 10 unguarded actions run in one remote script', async () => {
    const kit = sshd.get();
    const s = await scratch('ssh');
    const guarded = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`action:guarded${i}`, { command: `echo g${i} >> ${s.log}`, unless: `test ${i} -ge 0` }]));
    let mark = await kit.mark();
    expect((await apply(guarded, 'apply', kit)).result.summary).toMatchObject({ ok: 20, changed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });

    const unguarded = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`action:run${i}`, { command: `echo r${i} >> ${s.log}` }]));
    mark = await kit.mark();
    const { result, host } = await apply(unguarded, 'apply', kit);
    expect(result.summary).toMatchObject({ changed: 10, failed: 0 });
    // Nothing to gather or confirm without guards: the host lock's probe; its take heading the fixes
    // (one remote script for all ten); and its release.
    expect(host.roundTrips.execs).toBe(3);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 3 });
    expect((await s.lines()).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
  });
});
