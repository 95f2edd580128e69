// fettle pull --install-timer on a booted Debian host (systemd as PID 1): the timer fires and the node
// converges from a real Verdaccio with no controller involved; --remove-timer takes it all away.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesForTests, startRegistry, type RegistryKit } from '@fettle/testkit';
import { bin, sitesRoot } from './test-sites.js';

mkdirSync(sitesRoot, { recursive: true });

const machines = machinesForTests({ hosts: ['pm1'] });
if (machines.skip) console.warn(`cli: pull timer test SKIPPED: ${machines.skip}`);
let registry: RegistryKit;
const site = mkdtempSync(path.join(sitesRoot, 'timer-'));

beforeAll(async () => {
  if (machines.skip) return;
  registry = await startRegistry({ uplink: false });
  writeFileSync(path.join(site, 'package.json'), JSON.stringify({ name: '@fettle-test/timer-site', version: '2.0.0', type: 'module' }));
  writeFileSync(
    path.join(site, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';

export default defineSite({
  plugins: [files, local],
  // pm1 is the booted host's host name: the timer's pull finds itself in the inventory by it.
  hosts: new MemoryHostStore({ hosts: { pm1: { transport: 'local' }, pm2: { transport: 'local' } }, defaultRoles: ['app'] }),
  roles: { app: (host) => ({ 'file:/etc/fettle-pulled.conf': { content: \`pulled by \${host.name}\\n\` } }) },
});
`,
  );
  const env = registry.env({ NO_COLOR: '1' });
  for (const command of [['build'], ['publish']]) {
    const result = spawnSync(process.execPath, [bin, ...command, '--site', site], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`fettle ${command[0]} failed: ${result.stderr}`);
  }
  await machines.start();
}, 30 * 60_000);

afterAll(async () => {
  await machines.stop();
  await registry?.stop();
  rmSync(site, { recursive: true, force: true });
}, 120_000);

describe.skipIf(machines.skip)('fettle pull --install-timer on a booted host', () => {
  it('installs a systemd timer that fires and converges the node from the registry; removing it is one command', async () => {
    const machine = machines.get('pm1');
    const build = JSON.parse(readFileSync(path.join(site, 'dist/build.json'), 'utf8')) as { bundle: string; version: string };
    // The host gets node (the binary alone) and the site bundle, nothing else.
    copyFileSync(process.execPath, path.join(machine.root, 'usr/local/bin/node'));
    chmodSync(path.join(machine.root, 'usr/local/bin/node'), 0o755);
    copyFileSync(build.bundle, path.join(machine.root, 'root/site.mjs'));

    const installed = await machine.sh(`node /root/site.mjs pull --install-timer --registry ${registry.url} --on-calendar '*:*:0/5' --randomized-delay 3`, 120_000);
    expect(installed).toMatch(/installed the systemd timer for: \/usr\/local\/bin\/node \/var\/lib\/fettle\/pull\/fettle-pull\.mjs pull latest --registry/);
    expect(await machine.sh('systemctl list-timers --all --no-pager')).toMatch(/fettle-pull\.timer\s+fettle-pull\.service/);
    expect(readFileSync(path.join(machine.root, 'etc/systemd/system/fettle-pull.timer'), 'utf8')).toMatch(/RandomizedDelaySec=3/);

    // No controller: the timer fires, the node pulls, verifies, applies itself.
    const report = path.join(machine.root, 'var/lib/fettle/pull/last-run.json');
    const deadline = Date.now() + 90_000;
    while (!existsSync(report) && Date.now() < deadline) await sleep(500);
    expect(existsSync(report)).toBe(true);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ node: 'pm1', version: build.version, success: true, summary: { changed: 1 } });
    expect(readFileSync(path.join(machine.root, 'etc/fettle-pulled.conf'), 'utf8')).toBe('pulled by pm1\n');
    expect(readFileSync(path.join(machine.root, 'var/lib/prometheus/node-exporter/fettle.prom'), 'utf8')).toMatch(/^fettle_last_run_success\{site="@fettle-test\/timer-site"\} 1$/m);
    expect(await machine.sh('journalctl -u fettle-pull.service --no-pager | tail -n 20')).toMatch(/fettle-pull\.service|pulled|applied/);

    // A second install changes nothing; removal stops and deletes the units.
    const again = JSON.parse(await machine.sh(`node /root/site.mjs pull --install-timer --registry ${registry.url} --on-calendar '*:*:0/5' --randomized-delay 3 --json`)) as {
      installed: boolean;
      result: { summary: { changed: number; failed: number } };
    };
    expect(again).toMatchObject({ installed: true, result: { summary: { changed: 0, failed: 0 } } });
    const removed = await machine.sh('node /root/site.mjs pull --remove-timer');
    expect(removed).toMatch(/removed the systemd timer/);
    expect(await machine.sh('systemctl list-timers --all --no-pager')).not.toMatch(/fettle-pull/);
    expect(existsSync(path.join(machine.root, 'etc/systemd/system/fettle-pull.timer'))).toBe(false);
    expect(existsSync(path.join(machine.root, 'etc/systemd/system/fettle-pull.service'))).toBe(false);
  });
});
