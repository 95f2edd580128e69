import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runItems, type ItemMap } from '@fettle/core';
import sshTransport from '@fettle/transport-ssh';
import { machinesForTests } from '@fettle/testkit';
import aptPlugin from './index.js';

// A booted Debian 12 host of the test kit: its own dpkg database, so installing and
// removing cannot disturb the test machine. `hello` waits in the host's apt cache
// (the kit's tree downloads it), so no mirror is needed at test time.
const machines = machinesForTests({ hosts: ['apt1'] });
if (machines.skip) console.warn(`items-apt: booted-host tests SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

let siteDir: string;
beforeAll(async () => {
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-apt-site-'));
});
afterAll(() => rm(siteDir, { recursive: true, force: true }));

const host = () => machines.get('apt1');
const apply = (items: ItemMap) => runItems({ plugins: [aptPlugin, sshTransport], hostName: 'apt1', host: host().inventoryHost(), items, mode: 'apply', siteDir });
const status = (pkg: string) => host().sh(`dpkg-query -W -f '\${db:Status-Abbrev}' ${pkg} 2>/dev/null || echo absent`);
/** The same question on the test machine itself. */
const hereStatus = (pkg: string) => spawnSync('sh', ['-c', `dpkg-query -W -f '\${db:Status-Abbrev}' ${pkg} 2>/dev/null || echo absent`], { encoding: 'utf8' }).stdout.trim();

describe.skipIf(machines.skip)('pkg_apt on a booted host', () => {
  it('installs and removes a package inside the host only; a second apply is 1 connection and at most 2 commands', async () => {
    expect(await status('hello')).toBe('absent');
    const onTestMachine = hereStatus('hello');

    const install = await apply({ 'pkg_apt:hello': {} });
    expect(install.result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(await status('hello')).toBe('ii');
    expect(await host().sh('hello')).toBe('Hello, world!');

    const mark = await host().mark();
    const again = await apply({ 'pkg_apt:hello': {} });
    expect(again.result.summary).toMatchObject({ ok: 1, changed: 0, failed: 0 });
    const counts = await host().countsSince(mark);
    expect(counts.connections).toBe(1);
    expect(counts.execs).toBeLessThanOrEqual(2);

    const remove = await apply({ 'pkg_apt:hello': { installed: false } });
    expect(remove.result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(await status('hello')).toMatch(/^(absent|rc)$/);
    // The test machine's own package database never saw any of it.
    expect(hereStatus('hello')).toBe(onTestMachine);
  });
});
