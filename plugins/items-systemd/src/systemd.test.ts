import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, defineItemType, definePlugin, z, type ItemMap, type RunMode } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import systemdPlugin from './index.js';

// What a host without systemd as PID 1 answers (this machine's own case, where the
// tests usually run). Real units are tested on booted hosts in booted.test.ts.
// sd_booted(): systemd is PID 1 exactly when this folder exists.
const noSystemd = !existsSync('/run/systemd/system');
const hasSystemctl = existsSync('/usr/bin/systemctl') || existsSync('/bin/systemctl');

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
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** h1 over the local transport, confined to a folder. */
function run(items: ItemMap, mode: RunMode = 'apply') {
  const host = { transport: 'local', transportOptions: { root: path.join(dir, 'root') } };
  return runItems({ plugins: [systemdPlugin, stampPlugin, localTransport], hostName: 'h1', host, items, mode, siteDir: dir });
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
