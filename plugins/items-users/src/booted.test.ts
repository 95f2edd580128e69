import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, type ItemMap } from '@fettle/core';
import sshTransport from '@fettle/transport-ssh';
import { machinesForTests } from '@fettle/testkit';
import usersPlugin from './index.js';

// A booted Debian 12 host of the test kit: users and groups go into its own
// /etc/passwd and /etc/group, so plain names are safe (no collision with this machine).
const machines = machinesForTests({ hosts: ['users1'] });
if (machines.skip) console.warn(`items-users: booted-host tests SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

let siteDir: string;
beforeAll(async () => {
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-users-site-'));
});
afterAll(() => rm(siteDir, { recursive: true, force: true }));

const host = () => machines.get('users1');
const apply = (items: ItemMap) => runItems({ plugins: [usersPlugin, sshTransport], hostName: 'users1', host: host().inventoryHost(), items, mode: 'apply', siteDir });
const getent = (db: string, name: string) => host().sh(`getent ${db} ${name} || true`);

describe.skipIf(machines.skip)('user and group on a booted host', () => {
  it("creates, changes and deletes them in the host's own user database; a second apply is 1 connection and at most 2 commands", async () => {
    const items: ItemMap = {
      'group:deploy': { gid: 2500 },
      'group:webadmins': {},
      'user:deploy': { uid: 2500, gid: 'deploy', groups: ['webadmins'], home: '/srv/deploy', shell: '/bin/bash', full_name: 'Deploy Bot' },
    };
    const first = await apply(items);
    expect(first.result.summary).toMatchObject({ changed: 3, failed: 0 });
    expect(await getent('group', 'deploy')).toBe('deploy:x:2500:');
    expect(await getent('passwd', 'deploy')).toBe('deploy:x:2500:2500:Deploy Bot:/srv/deploy:/bin/bash');
    expect(await host().sh('id -nG deploy')).toBe('deploy webadmins');
    // Only inside the host.
    expect(spawnSync('getent', ['passwd', 'deploy'], { encoding: 'utf8' }).stdout).not.toContain('Deploy Bot');

    const mark = await host().mark();
    const again = await apply(items);
    expect(again.result.summary).toMatchObject({ ok: 3, changed: 0, failed: 0 });
    const counts = await host().countsSince(mark);
    expect(counts.connections).toBe(1);
    expect(counts.execs).toBeLessThanOrEqual(2);

    const changed = await apply({ ...items, 'user:deploy': { ...items['user:deploy'], shell: '/bin/sh', groups: [] } });
    expect(changed.byId['user:deploy']).toMatchObject({ status: 'changed' });
    expect(await getent('passwd', 'deploy')).toBe('deploy:x:2500:2500:Deploy Bot:/srv/deploy:/bin/sh');
    expect(await host().sh('id -nG deploy')).toBe('deploy');

    const gone = await apply({ 'user:deploy': { delete: true }, 'group:webadmins': { delete: true } });
    expect(gone.result.summary).toMatchObject({ changed: 2, failed: 0 });
    expect(await getent('passwd', 'deploy')).toBe('');
    expect(await getent('group', 'webadmins')).toBe('');
  });
});
