import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, defineItemType, definePlugin, z, type ItemMap, type RunMode } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import sshTransport from '@fettle/transport-ssh';
import { sshdForTests, type SshdKit } from '@fettle/testkit';
import systemdPlugin from './index.js';

const exec = promisify(execFile);
const sh = async (command: string) => (await exec('sh', ['-c', command], { timeout: 120_000 })).stdout.trim();

// sd_booted(): systemd is PID 1 exactly when this folder exists.
const noSystemd = !existsSync('/run/systemd/system');
const hasSystemctl = existsSync('/usr/bin/systemctl') || existsSync('/bin/systemctl');
const WHY = 'this machine has no running systemd (/run/systemd/system is missing: systemd is not PID 1, so no unit can be started)';
if (noSystemd) console.warn(`items-systemd: the real-unit test is SKIPPED because ${WHY}; command building and parsing are tested on recorded outputs instead.`);

const UNIT = `fettletest${randomBytes(4).toString('hex')}.service`;
// /usr/local/lib: a unit path where enable and mask both work (mask refuses units in /etc).
const UNIT_FILE = `/usr/local/lib/systemd/system/${UNIT}`;
let dir: string;

/** A test-only item that writes a file under the host root: something to trigger restarts with. */
const stampItem = defineItemType({
  name: 'stamp',
  attributes: z.strictObject({ value: z.string() }),
  cdict: (item) => ({ value: item.attrs.value }),
  async sdict(item, context) {
    const data = await context.readFile(item.name);
    return data === null ? null : { value: data.toString('utf8') };
  },
  fix: (_change, item, context) => context.writeFile(item.name, item.attrs.value),
});
const stampPlugin = definePlugin({ name: 'stamp-for-tests', itemTypes: [stampItem] });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fettle-systemd-'));
  if (noSystemd) return;
  await mkdir(path.dirname(UNIT_FILE), { recursive: true });
  await writeFile(
    UNIT_FILE,
    ['[Unit]', 'Description=fettle test unit', '[Service]', 'ExecStart=/bin/sleep infinity', 'ExecReload=/bin/true', '[Install]', 'WantedBy=multi-user.target', ''].join('\n'),
  );
  await sh('systemctl daemon-reload');
});

afterAll(async () => {
  if (!noSystemd) {
    await sh(`systemctl stop ${UNIT}; systemctl disable ${UNIT}; systemctl unmask ${UNIT}; rm -f ${UNIT_FILE}; systemctl daemon-reload; true`);
  }
  await rm(dir, { recursive: true, force: true });
});

const sshd = sshdForTests({ hosts: ['h1'] });
beforeAll(sshd.start);
afterAll(sshd.stop);

/** h1 over the local transport, or over SSH to the test kit's sshd (as this user, root). */
function run(items: ItemMap, mode: RunMode = 'apply', kit?: SshdKit) {
  const host = kit ? kit.inventoryHost('h1') : { transport: 'local', transportOptions: { root: path.join(dir, 'root') } };
  return runItems({ plugins: [systemdPlugin, stampPlugin, localTransport, sshTransport], hostName: 'h1', host, items, mode, siteDir: dir });
}

describe('svc_systemd without systemd', () => {
  it.runIf(noSystemd && hasSystemctl)("fails with systemctl's own message, and triggers the restart only when its trigger changed", async () => {
    const { byId } = await run({ 'svc_systemd:fettle-nosuch': { running: true } });
    expect(byId['svc_systemd:fettle-nosuch']).toMatchObject({ status: 'failed' });
    expect(byId['svc_systemd:fettle-nosuch']?.error).toContain('System has not been booted with systemd');

    const triggering: ItemMap = {
      'stamp:/fettle-nosuch.conf': { value: 'v1', triggers: ['svc_systemd_restart:fettle-nosuch'] },
      'svc_systemd_restart:fettle-nosuch': {}, // triggered by default (commonDefaults)
    };
    const first = await run(triggering);
    expect(first.byId['stamp:/fettle-nosuch.conf']).toMatchObject({ status: 'changed' });
    // Triggered, so it ran `systemctl try-restart`, which cannot work here.
    expect(first.byId['svc_systemd_restart:fettle-nosuch']).toMatchObject({ status: 'failed' });
    expect(first.byId['svc_systemd_restart:fettle-nosuch']?.error).toContain('System has not been booted with systemd');
    const second = await run(triggering);
    expect(second.byId['stamp:/fettle-nosuch.conf']).toMatchObject({ status: 'ok' });
    expect(second.byId['svc_systemd_restart:fettle-nosuch']).toMatchObject({ status: 'skipped', reason: 'not triggered' });
  });
});

describe('svc_systemd round trips over SSH', () => {
  it.runIf(hasSystemctl)('asks about 20 units with one connection and one exec', async () => {
    const kit = sshd.get();
    const units = ['ssh', 'cron', ...Array.from({ length: 18 }, (_, i) => `fettle-nosuch-${i}`)];
    const items = Object.fromEntries(units.map((unit) => [`svc_systemd:${unit}`, { running: true }]));
    const mark = await kit.mark();
    const { result } = await run(items, 'verify', kit);
    expect(result.summary.ok + result.summary.changed + result.summary.failed).toBe(20);
    // Without systemd every item fails with the one command's error; with it they are ok or changed.
    if (noSystemd) expect(result.hosts[0]?.items[0]?.error).toContain('System has not been booted with systemd');
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
  });
});

describe('svc_systemd on a real systemd', () => {
  it.skipIf(noSystemd)(
    noSystemd ? `SKIPPED (real unit lifecycle): ${WHY}` : 'enables, starts, restarts on trigger, stops, masks and unmasks a real unit',
    async () => {
      const id = `svc_systemd:${UNIT}`;
      const on: ItemMap = { [id]: { enabled: true, running: true } };
      expect((await run(on, 'plan')).byId[id]).toMatchObject({ status: 'changed' });
      expect((await run(on)).byId[id]).toMatchObject({ status: 'changed' });
      expect(await sh(`systemctl is-active ${UNIT}; true`)).toBe('active');
      expect(await sh(`systemctl is-enabled ${UNIT}; true`)).toBe('enabled');
      const again = await run(on);
      expect(again.result.summary).toMatchObject({ ok: 1, changed: 0 });
      expect(again.host.roundTrips.execs).toBe(1);

      const pidBefore = await sh(`systemctl show -p MainPID --value ${UNIT}`);
      const triggering: ItemMap = {
        ...on,
        'stamp:/fettle-test.conf': { value: 'v1', triggers: [`svc_systemd_restart:${UNIT}`, `svc_systemd_reload:${UNIT}`] },
        [`svc_systemd_restart:${UNIT}`]: { triggered: true },
        [`svc_systemd_reload:${UNIT}`]: { triggered: true },
      };
      const restarted = await run(triggering);
      expect(restarted.result.summary).toMatchObject({ failed: 0, changed: 3 });
      expect(await sh(`systemctl show -p MainPID --value ${UNIT}`)).not.toBe(pidBefore);
      const quiet = await run(triggering);
      expect(quiet.byId[`svc_systemd_restart:${UNIT}`]).toMatchObject({ status: 'skipped', reason: 'not triggered' });

      const off: ItemMap = { [id]: { enabled: false, running: false, masked: true } };
      expect((await run(off)).byId[id]).toMatchObject({ status: 'changed' });
      expect(await sh(`systemctl is-active ${UNIT}; true`)).not.toBe('active');
      expect(await sh(`systemctl is-enabled ${UNIT}; true`)).toBe('masked');
      expect((await run(off)).result.summary).toMatchObject({ ok: 1, changed: 0 });

      const unmasked = await run({ [id]: { masked: false } });
      expect(unmasked.byId[id]).toMatchObject({ status: 'changed' });
      expect(await sh(`systemctl is-enabled ${UNIT}; true`)).toBe('disabled');
    },
  );

  it.skipIf(noSystemd)(noSystemd ? `SKIPPED (unknown unit): ${WHY}` : 'says a unit that does not exist is not found', async () => {
    const { byId } = await run({ 'svc_systemd:fettle-nosuch-unit': { running: true } });
    expect(byId['svc_systemd:fettle-nosuch-unit']?.error).toContain('not found');
  });
});
