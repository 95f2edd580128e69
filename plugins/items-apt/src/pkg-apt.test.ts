import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, type ItemMap, type RunMode } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import sshTransport from '@fettle/transport-ssh';
import { createAptTestRepo, sshdForTests, type SshdKit } from '@fettle/testkit';
import aptPlugin from './index.js';

// Against the machine's real apt and dpkg (tests run as root on Debian 12), with the packages of a
// private repository on this disk (collision-proof names, purged after), so apt never reaches the network:
// APT_CONFIG points this process, the local transport and the kit's sshd sessions at it.
const exec = promisify(execFile);
const sh = async (command: string, timeout = 300_000) => (await exec('sh', ['-c', command], { timeout, maxBuffer: 64 * 1024 * 1024 })).stdout;

const repo = createAptTestRepo(2);
process.env['APT_CONFIG'] = repo.env.APT_CONFIG;
const picked = repo.packages.map((pkg) => ({ name: pkg.name, candidate: pkg.version }));
let dir: string;

async function dpkgVersion(name: string): Promise<string | null> {
  const out = await sh(`dpkg-query -W -f '\${db:Status-Abbrev} \${Version}' ${name} 2>/dev/null || true`);
  return out.startsWith('ii ') ? out.slice(3).trim() : null;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fettle-apt-'));
  await sh('apt-get -q -o DPkg::Lock::Timeout=300 update');
}, 600_000);

afterAll(async () => {
  repo.remove();
  await rm(dir, { recursive: true, force: true });
}, 600_000);

// sshd keeps the first SetEnv it reads: the kit's own SHLVL=1 goes on the same line.
const sshd = sshdForTests({ hosts: ['h1'], extraConfig: `SetEnv APT_CONFIG=${repo.env.APT_CONFIG} SHLVL=1` });
beforeAll(sshd.start);
afterAll(sshd.stop);

/** h1 over the local transport, or over SSH to the test kit's sshd (as this user, root). */
function run(items: ItemMap, mode: RunMode = 'apply', kit?: SshdKit) {
  const host = kit ? kit.inventoryHost('h1') : { transport: 'local', transportOptions: { root: path.join(dir, 'root') } };
  return runItems({ plugins: [aptPlugin, localTransport, sshTransport], hostName: 'h1', host, items, mode, siteDir: dir });
}

/** 30 pkg_apt items for packages this machine has installed. */
async function thirtyInstalled(): Promise<ItemMap> {
  const installed = (await sh(`dpkg-query -W -f '\${db:Status-Abbrev} \${Package}\\n'`))
    .split('\n')
    .filter((line) => line.startsWith('ii '))
    .map((line) => line.slice(3).trim())
    .filter((name) => /^[a-z0-9][a-z0-9+.-]*$/.test(name))
    .slice(0, 30);
  expect(installed).toHaveLength(30);
  return Object.fromEntries(installed.map((name) => [`pkg_apt:${name}`, {}]));
}

describe('pkg_apt on the real apt', () => {
  it('gathers the state of 30 packages with one remote command (local transport)', async () => {
    const { result, host } = await run(await thirtyInstalled(), 'verify');
    expect(result.summary).toMatchObject({ ok: 30, changed: 0, failed: 0 });
    expect(host.roundTrips.execs).toBe(1);
  });

  it('gathers the state of 30 packages with one connection and one exec over SSH', async () => {
    const kit = sshd.get();
    const items = await thirtyInstalled();
    const mark = await kit.mark();
    const { result, host } = await run(items, 'verify', kit);
    expect(result.summary).toMatchObject({ ok: 30, changed: 0, failed: 0 });
    expect(host.roundTrips.execs).toBe(1);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
  });

  it('installs absent packages with one apt-get, verifies them, removes them; second applies change nothing', async () => {
    const [first, second] = picked as [(typeof picked)[number], (typeof picked)[number]];
    const present: ItemMap = {
      [`pkg_apt:${first.name}`]: { version: first.candidate },
      [`pkg_apt:${second.name}`]: {},
    };
    const plan = await run(present, 'plan');
    expect(plan.byId[`pkg_apt:${first.name}`]).toMatchObject({ status: 'wouldChange', action: 'create' });
    expect(await dpkgVersion(first.name)).toBeNull();

    const install = await run(present);
    expect(install.result.summary).toMatchObject({ changed: 2, failed: 0 });
    // gather; the host lock's take heading one fix script (one apt-get install for both); confirm (+ release)
    expect(install.host.roundTrips.execs).toBe(3);
    expect(await dpkgVersion(first.name)).toBe(first.candidate);
    expect(await dpkgVersion(second.name)).toBe(second.candidate);

    const again = await run(present);
    expect(again.result.summary).toMatchObject({ ok: 2, changed: 0, failed: 0 });
    expect(again.host.roundTrips.execs).toBe(1);

    const absent: ItemMap = {
      [`pkg_apt:${first.name}`]: { installed: false },
      [`pkg_apt:${second.name}`]: { installed: false },
    };
    const remove = await run(absent);
    expect(remove.result.summary).toMatchObject({ changed: 2, failed: 0 });
    expect(remove.byId[`pkg_apt:${first.name}`]).toMatchObject({ action: 'delete' });
    expect(remove.host.roundTrips.execs).toBe(3);
    expect(await dpkgVersion(first.name)).toBeNull();
    expect(await dpkgVersion(second.name)).toBeNull();

    const removedAgain = await run(absent);
    expect(removedAgain.result.summary).toMatchObject({ ok: 2, changed: 0, failed: 0 });
  });

  it('installs and removes over SSH: one connection, gather; lock + one apt-get; confirm', async () => {
    const kit = sshd.get();
    const [first] = picked as [(typeof picked)[number]];
    const id = `pkg_apt:${first.name}`;
    let mark = await kit.mark();
    const install = await run({ [id]: {} }, 'apply', kit);
    expect(install.result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 3 });
    expect(await dpkgVersion(first.name)).toBe(first.candidate);

    mark = await kit.mark();
    expect((await run({ [id]: {} }, 'apply', kit)).result.summary).toMatchObject({ ok: 1, changed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });

    mark = await kit.mark();
    const remove = await run({ [id]: { installed: false } }, 'apply', kit);
    expect(remove.result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 3 });
    expect(await dpkgVersion(first.name)).toBeNull();
  });

  it("fails an unknown package with apt's own message", async () => {
    const { byId } = await run({ 'pkg_apt:fettle-no-such-package': {} });
    expect(byId['pkg_apt:fettle-no-such-package']).toMatchObject({ status: 'failed' });
    expect(byId['pkg_apt:fettle-no-such-package']?.error).toContain('Unable to locate package fettle-no-such-package');
  });
});
