import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, secret, type ItemMap, type RunMode, type SecretStore } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import sshTransport from '@fettle/transport-ssh';
import { sshdForTests, type SshdKit } from '@fettle/testkit';
import usersPlugin from './index.js';

// Real useradd/usermod/userdel on this machine (root, Debian 12), with names that cannot collide.
const exec = promisify(execFile);
const sh = async (command: string) => (await exec('sh', ['-c', command], { timeout: 60_000 })).stdout;
const getent = async (db: string, name: string) => (await sh(`getent ${db} ${name} || true`)).trim();

const tag = randomBytes(4).toString('hex');
const USER = `fettletest${tag}u`; // 19 characters: under useradd's 31
const GROUP = `fettletest${tag}g`;
const EXTRA = `fettletest${tag}x`;
const SSH_USER = `fettletest${tag}s`;
const SSH_GROUP = `fettletest${tag}t`;
const HASH_1 = '$6$fettlesalt$MRpsu15t3egJ4Wb1Liffvwg3ZKwhXT19PUK3bVqX9Ltlmy4GWRIyZT2STlNDKV/3qD7e8FrmAPqNQj9WVfiAe0';
const HASH_2 = '$6$othersalt$9tQ4wDVyOeu0lG1ttCPpUKHhKc8R/ZoWbJVvAZ8eB0N4z0kV4cC5n6y9ajQY3p1Jc3h1rO7yqv2eqQ0m8V7Zx.';
let dir: string;
let uid: number;
let gid: number;

/** Two free ids in a range useradd does not hand out itself. */
async function freeId(db: 'passwd' | 'group', avoid: number[] = []): Promise<number> {
  const used = new Set((await sh(`getent ${db}`)).split('\n').map((line) => Number(line.split(':')[2])));
  for (let id = 61000 + Math.floor(Math.random() * 3000); id < 65000; id++) if (!used.has(id) && !avoid.includes(id)) return id;
  throw new Error(`no free id in ${db}`);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fettle-users-'));
  uid = await freeId('passwd');
  gid = await freeId('group');
});

afterAll(async () => {
  // Whatever a failed test left behind.
  for (const user of [USER, SSH_USER]) await sh(`userdel ${user} 2>/dev/null; rm -rf /home/${user} /var/mail/${user}; true`);
  await sh(`for g in ${USER} ${GROUP} ${EXTRA} ${SSH_USER} ${SSH_GROUP}; do groupdel $g 2>/dev/null; done; true`);
  await rm(dir, { recursive: true, force: true });
});

const store: SecretStore = {
  describe: 'test secrets',
  list: () => Promise.resolve(['hash']),
  get: () => Promise.resolve(HASH_1),
  set: () => Promise.reject(new Error('read-only')),
};

const sshd = sshdForTests({ hosts: ['h1'] });
beforeAll(sshd.start);
afterAll(sshd.stop);

/** h1 over the local transport, or over SSH to the test kit's sshd (as this user, root). */
function run(items: ItemMap, mode: RunMode = 'apply', kit?: SshdKit) {
  const host = kit ? kit.inventoryHost('h1') : { transport: 'local', transportOptions: { root: path.join(dir, 'root') } };
  return runItems({ plugins: [usersPlugin, localTransport, sshTransport], hostName: 'h1', host, items, mode, siteDir: dir, secrets: store });
}

describe('user and group on this machine', () => {
  it('creates, changes and removes a user and its groups', async () => {
    const created: ItemMap = {
      [`group:${GROUP}`]: { gid },
      [`group:${EXTRA}`]: {},
      [`user:${USER}`]: {
        uid,
        gid: GROUP,
        groups: [EXTRA],
        shell: '/bin/sh',
        full_name: 'Fettle Test',
        password_hash: secret('hash'),
      },
    };

    const plan = await run(created, 'plan');
    expect(plan.byId[`user:${USER}`]).toMatchObject({ status: 'wouldChange', action: 'create' });
    expect(await getent('passwd', USER)).toBe('');

    const first = await run(created);
    expect(first.result.summary).toMatchObject({ changed: 3, failed: 0 });
    expect(await getent('passwd', USER)).toBe(`${USER}:x:${uid}:${gid}:Fettle Test:/home/${USER}:/bin/sh`);
    expect(await getent('group', EXTRA)).toMatch(new RegExp(`^${EXTRA}:x:\\d+:${USER}$`));
    expect((await getent('shadow', USER)).split(':')[1]).toBe(HASH_1);
    // The hash reached the host but never the report.
    expect(JSON.stringify(first.result)).not.toContain(HASH_1);

    const again = await run(created);
    expect(again.result.summary).toMatchObject({ ok: 3, changed: 0, failed: 0 });
    expect(again.host.roundTrips.execs).toBe(1);

    const changed: ItemMap = {
      [`group:${GROUP}`]: { gid: gid + 1 === uid ? gid + 2 : gid + 1 },
      [`group:${EXTRA}`]: {},
      [`user:${USER}`]: { uid, gid: GROUP, groups: [], shell: '/bin/bash', full_name: 'Fettle Test', password_hash: HASH_2 },
    };
    const change = await run(changed);
    expect(change.result.summary).toMatchObject({ changed: 2, ok: 1, failed: 0 });
    const diff = change.byId[`user:${USER}`]?.diff ?? [];
    expect(diff.map((line) => line.key).sort()).toEqual(['groups', 'password_hash', 'shell']);
    expect(JSON.stringify(diff)).not.toContain('$6$');
    expect(await getent('passwd', USER)).toMatch(new RegExp(`^${USER}:x:${uid}:\\d+:Fettle Test:/home/${USER}:/bin/bash$`));
    expect(await getent('group', EXTRA)).toMatch(new RegExp(`^${EXTRA}:x:\\d+:$`));
    expect((await getent('shadow', USER)).split(':')[1]).toBe(HASH_2);
    expect((await run(changed)).result.summary).toMatchObject({ ok: 3, changed: 0 });

    const removed: ItemMap = {
      [`user:${USER}`]: { delete: true },
      [`group:${GROUP}`]: { delete: true, needs: [`user:${USER}`] },
      [`group:${EXTRA}`]: { delete: true },
    };
    const remove = await run(removed);
    expect(remove.result.summary).toMatchObject({ changed: 3, failed: 0 });
    expect(await getent('passwd', USER)).toBe('');
    expect(await getent('group', GROUP)).toBe('');
    expect(await getent('group', EXTRA)).toBe('');
    expect((await run(removed)).result.summary).toMatchObject({ ok: 3, changed: 0 });
  });

  it('gives a user without gid its own group, reusing one the site creates', async () => {
    const items: ItemMap = { [`group:${USER}`]: {}, [`user:${USER}`]: { shell: '/bin/sh' } };
    const first = await run(items);
    expect(first.result.summary).toMatchObject({ changed: 2, failed: 0 });
    const groupLine = await getent('group', USER);
    expect((await getent('passwd', USER)).split(':')[3]).toBe(groupLine.split(':')[2]);
    const gone = await run({ [`user:${USER}`]: { delete: true }, [`group:${USER}`]: { delete: true } });
    expect(gone.result.summary.failed).toBe(0);
    expect(await getent('passwd', USER)).toBe('');
    expect(await getent('group', USER)).toBe('');
  });

  it("reports useradd's own error", async () => {
    const { byId } = await run({ [`user:${USER}`]: { gid: `${GROUP}nosuch` } });
    expect(byId[`user:${USER}`]).toMatchObject({ status: 'failed' });
    expect(byId[`user:${USER}`]?.error).toMatch(/group '.*nosuch' does not exist/);
  });

  it('over SSH: one connection; a no-op apply is one exec, creating a user after its group five', async () => {
    const kit = sshd.get();
    const items: ItemMap = {
      [`group:${SSH_GROUP}`]: {},
      [`user:${SSH_USER}`]: { groups: [SSH_GROUP], shell: '/bin/sh', password_hash: HASH_1 },
    };
    let mark = await kit.mark();
    const create = await run(items, 'apply', kit);
    expect(create.result.summary).toMatchObject({ changed: 2, failed: 0 });
    // gather; wave 1 (group): the host lock's take heading the fix, confirm (which also reads the
    // user's state for wave 2, no re-gather of its own); wave 2 (user): fix, confirm (+ release)
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 5 });
    expect(await getent('group', SSH_GROUP)).toMatch(new RegExp(`:${SSH_USER}$`));

    mark = await kit.mark();
    expect((await run(items, 'apply', kit)).result.summary).toMatchObject({ ok: 2, changed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });

    const gone = await run({ [`user:${SSH_USER}`]: { delete: true }, [`group:${SSH_GROUP}`]: { delete: true } }, 'apply', kit);
    expect(gone.result.summary).toMatchObject({ changed: 2, failed: 0 });
    expect(await getent('passwd', SSH_USER)).toBe('');
  });
});
