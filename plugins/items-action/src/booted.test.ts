import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, type ItemMap } from '@fettle/core';
import sshTransport from '@fettle/transport-ssh';
import { machinesForTests } from '@fettle/testkit';
import actionPlugin from './index.js';

// A booted Debian 12 host of the test kit: the guard reads the host's real state
// (a system user created by the action itself), not a file in a sandbox.
const machines = machinesForTests({ hosts: ['action1'] });
if (machines.skip) console.warn(`items-action: booted-host tests SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

let siteDir: string;
beforeAll(async () => {
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-action-site-'));
});
afterAll(() => rm(siteDir, { recursive: true, force: true }));

const host = () => machines.get('action1');
const apply = (items: ItemMap) => runItems({ plugins: [actionPlugin, sshTransport], hostName: 'action1', host: host().inventoryHost(), items, mode: 'apply', siteDir });

describe.skipIf(machines.skip)('action with unless on a booted host', () => {
  it('runs while its guard fails, then never again once the state it checks is real', async () => {
    const items: ItemMap = {
      'action:create-backup-user': {
        command: 'useradd --system --no-create-home --shell /usr/sbin/nologin backup-agent && systemctl disable e2scrub_reap.service',
        unless: 'id -u backup-agent >/dev/null 2>&1 && ! systemctl is-enabled --quiet e2scrub_reap.service',
      },
    };
    // The guard reads two real things: the user database and systemd's unit state.
    expect(await host().sh('systemctl is-enabled e2scrub_reap.service')).toBe('enabled');
    const first = await apply(items);
    expect(first.byId['action:create-backup-user']).toMatchObject({ status: 'changed' });
    expect(await host().sh('getent passwd backup-agent | cut -d: -f7')).toBe('/usr/sbin/nologin');
    expect(await host().sh('systemctl is-enabled e2scrub_reap.service || true')).toBe('disabled');

    const mark = await host().mark();
    const second = await apply(items);
    expect(second.byId['action:create-backup-user']).toMatchObject({ status: 'ok' });
    expect(await host().countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
  });
});
