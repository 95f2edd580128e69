import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, type ItemMap, type RunMode } from '@fettle/core';
import files from '@fettle/items-files';
import sshTransport from '@fettle/transport-ssh';
import { machinesForTests, type Machine } from '@fettle/testkit';
import systemdPlugin, { parseUnitStatus, unitStatusCommand } from './index.js';
import { isEnabled, isMasked, isRunning } from './facts.js';

// A booted Debian 12 host (systemd-nspawn, systemd as PID 1), reached over SSH like any host.
const machines = machinesForTests({ hosts: ['sd1'] });
if (machines.skip) console.warn(`items-systemd: booted-host tests SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

let siteDir: string;
beforeAll(async () => {
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-systemd-site-'));
});
afterAll(() => rm(siteDir, { recursive: true, force: true }));

const host = (): Machine => machines.get('sd1');
const run = (items: ItemMap, mode: RunMode = 'apply') =>
  runItems({ plugins: [systemdPlugin, files, sshTransport], hostName: 'sd1', host: host().inventoryHost(), items, mode, siteDir });
const state = (unit: string) => host().sh(`systemctl is-active ${unit} || true; systemctl is-enabled ${unit} || true`);

function unitFile(lines: string[]): string {
  return ['[Unit]', 'Description=fettle test unit', '[Service]', ...lines, '[Install]', 'WantedBy=multi-user.target', ''].join('\n');
}

/** A unit file written by a file item, reloaded into systemd and restarted when it changes. */
function managedUnit(unit: string, serviceLines: string[], wanted: { enabled?: boolean; running?: boolean; masked?: boolean }): ItemMap {
  return {
    [`file:/etc/systemd/system/${unit}`]: {
      content: unitFile(serviceLines),
      triggers: [`svc_systemd_daemon_reload:${unit}`, `svc_systemd_restart:${unit}`],
    },
    [`svc_systemd_daemon_reload:${unit}`]: {},
    [`svc_systemd:${unit}`]: wanted,
    [`svc_systemd_restart:${unit}`]: {},
  };
}

describe.skipIf(machines.skip)('svc_systemd on a booted host', () => {
  const UNIT = 'fettle-sleeper.service';
  const v1 = ['ExecStart=/bin/sleep infinity', 'Environment=FETTLE_VERSION=1', `ExecReload=/bin/sh -c 'echo reloaded >> /run/fettle-sleeper.reloads'`];
  const v2 = v1.map((l) => l.replace('FETTLE_VERSION=1', 'FETTLE_VERSION=2'));

  it('writes a unit file, reloads systemd, enables and starts it; a second apply is 1 connection and 1 command', async () => {
    const items = managedUnit(UNIT, v1, { enabled: true, running: true });
    const first = await run(items);
    expect(first.result.summary).toMatchObject({ failed: 0 });
    expect(first.byId[`file:/etc/systemd/system/${UNIT}`]).toMatchObject({ status: 'changed' });
    expect(first.byId[`svc_systemd_daemon_reload:${UNIT}`]).toMatchObject({ status: 'changed' });
    expect(first.byId[`svc_systemd:${UNIT}`]).toMatchObject({ status: 'changed' });
    expect(await state(UNIT)).toBe('active\nenabled');

    const mark = await host().mark();
    const again = await run(items);
    expect(again.result.summary).toMatchObject({ changed: 0, failed: 0 });
    expect(again.byId[`svc_systemd_daemon_reload:${UNIT}`]).toMatchObject({ status: 'skipped', reason: 'not triggered' });
    expect(await host().countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
  });

  it('reloads systemd and restarts the unit when its file changes', async () => {
    const pidBefore = await host().sh(`systemctl show -p MainPID --value ${UNIT}`);
    const changed = await run(managedUnit(UNIT, v2, { enabled: true, running: true }));
    expect(changed.result.summary).toMatchObject({ failed: 0 });
    expect(changed.byId[`svc_systemd_daemon_reload:${UNIT}`]).toMatchObject({ status: 'changed' });
    expect(changed.byId[`svc_systemd_restart:${UNIT}`]).toMatchObject({ status: 'changed' });
    // systemd runs the new definition: no stale unit, a new process with the new environment.
    expect(await host().sh(`systemctl show -p NeedDaemonReload --value ${UNIT}`)).toBe('no');
    const pidAfter = await host().sh(`systemctl show -p MainPID --value ${UNIT}`);
    expect(pidAfter).not.toBe(pidBefore);
    expect(await host().sh(`tr '\\0' '\\n' < /proc/${pidAfter}/environ | grep FETTLE_VERSION`)).toBe('FETTLE_VERSION=2');
  });

  it('reloads the unit (same process) when a config file it reads changes', async () => {
    const pidBefore = await host().sh(`systemctl show -p MainPID --value ${UNIT}`);
    const items: ItemMap = {
      'file:/etc/fettle-sleeper.conf': { content: 'level = 1\n', triggers: [`svc_systemd_reload:${UNIT}`] },
      [`svc_systemd:${UNIT}`]: { running: true },
      [`svc_systemd_reload:${UNIT}`]: {},
    };
    expect((await run(items)).byId[`svc_systemd_reload:${UNIT}`]).toMatchObject({ status: 'changed' });
    expect((await run(items)).byId[`svc_systemd_reload:${UNIT}`]).toMatchObject({ status: 'skipped', reason: 'not triggered' });
    expect(await host().sh('cat /run/fettle-sleeper.reloads')).toBe('reloaded');
    expect(await host().sh(`systemctl show -p MainPID --value ${UNIT}`)).toBe(pidBefore);
  });

  it('stops and disables, masks and unmasks', async () => {
    const id = `svc_systemd:${UNIT}`;
    expect((await run({ [id]: { enabled: false, running: false } })).byId[id]).toMatchObject({ status: 'changed' });
    expect(await state(UNIT)).toBe('inactive\ndisabled');
    // A unit in /etc/systemd/system cannot be masked (the mask would replace the file): use a packaged one.
    const packaged = 'svc_systemd:e2scrub_reap.service';
    expect((await run({ [packaged]: { enabled: false, masked: true } })).byId[packaged]).toMatchObject({ status: 'changed' });
    expect(await state('e2scrub_reap.service')).toBe('inactive\nmasked');
    expect((await run({ [packaged]: { enabled: false, masked: true } })).result.summary).toMatchObject({ changed: 0, failed: 0 });
    expect((await run({ [packaged]: { masked: false } })).byId[packaged]).toMatchObject({ status: 'changed' });
    expect(await state('e2scrub_reap.service')).toBe('inactive\ndisabled');
  });

  it("reports a unit that fails to start with the journal's last lines", async () => {
    const broken = 'fettle-broken.service';
    const items = managedUnit(broken, ['Type=oneshot', "ExecStart=/bin/sh -c 'echo fettle-broken: cannot open /etc/fettle-broken.conf >&2; exit 3'"], { running: true });
    const { byId } = await run(items);
    expect(byId[`file:/etc/systemd/system/${broken}`]).toMatchObject({ status: 'changed' });
    const failed = byId[`svc_systemd:${broken}`];
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed?.error).toContain(`Job for ${broken} failed`);
    expect(failed?.error).toContain(`--- journalctl -u ${broken} (last 10 lines) ---`);
    expect(failed?.error).toContain('fettle-broken: cannot open /etc/fettle-broken.conf');
    expect(await host().sh(`systemctl is-failed ${broken} || true`)).toBe('failed');
  });

  it('says a unit that does not exist is not found', async () => {
    const { byId } = await run({ 'svc_systemd:fettle-nosuch-unit': { running: true } });
    expect(byId['svc_systemd:fettle-nosuch-unit']?.error).toContain('not found');
  });

  it('asks about 20 units with one connection and one command (sshd counts inside the host)', async () => {
    const units = ['ssh', 'dbus', ...Array.from({ length: 18 }, (_, i) => `fettle-nosuch-${i}`)];
    const items = Object.fromEntries(units.map((unit) => [`svc_systemd:${unit}`, { running: true }]));
    const mark = await host().mark();
    const { result } = await run(items, 'verify');
    expect(result.summary).toMatchObject({ ok: 2, failed: 0 });
    expect(await host().countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
  });

  it('parses real systemctl show output the same way as the recorded fixture', async () => {
    // fixtures/show-booted-bookworm.txt was recorded from this very command on a booted host of the kit.
    const units = ['ssh', 'sshd', 'fettle-nosuch', 'e2scrub_reap', 'systemd-journald', 'dbus.socket', 'getty@tty1', 'fstrim.timer', 'fettle-broken'];
    const live = await host().sh(unitStatusCommand(units).text);
    const fixture = new URL('./fixtures/show-booted-bookworm.txt', import.meta.url);
    // FETTLE_RECORD_FIXTURES=1 re-records it (after the tests above left their units behind).
    if (process.env['FETTLE_RECORD_FIXTURES'] === '1') writeFileSync(fixture, `${live}\n`);
    const recorded = readFileSync(fixture, 'utf8');
    const summary = (text: string) =>
      parseUnitStatus(text, units).map((s) => `${s.id} ${s.loadState === 'not-found' ? 'absent' : `${isEnabled(s) ? 'enabled' : 'disabled'}/${isRunning(s) ? 'running' : 'stopped'}${isMasked(s) ? '/masked' : ''}`}`);
    expect(summary(live)).toEqual(summary(recorded));
    expect(summary(live)).toEqual([
      'ssh.service enabled/running',
      'ssh.service enabled/running',
      'fettle-nosuch.service absent',
      'e2scrub_reap.service disabled/stopped',
      'systemd-journald.service enabled/running',
      'dbus.socket enabled/running',
      'getty@tty1.service enabled/stopped',
      'fstrim.timer enabled/stopped', // its condition (not a container) keeps it inactive
      'fettle-broken.service disabled/stopped',
    ]);
  });
});
