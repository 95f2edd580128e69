import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machinesForTests, type Machine } from '@fettle/testkit';

// A sysadmin's day on two booted Debian hosts (systemd as PID 1, reached over SSH),
// driven through the fettle CLI exactly as a user would run it on this site.
const machines = machinesForTests({ hosts: ['web1', 'web2'] });
if (machines.skip) console.warn(`site-web: end-to-end test SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

const example = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
let site: string;
const httpPorts: Record<string, number> = {};

interface ApplyJson {
  summary: Record<string, number>;
  hosts: { host: string; status?: string; items: { id: string; status: string }[] }[];
}

/** `fettle apply --site <copy> --json`; the copy lives in sandbox/ so the site's imports resolve. */
function fettle(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args, '--site', site], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function apply(): Promise<ApplyJson> {
  const res = await fettle(['apply', '--json']);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as ApplyJson;
}

const status = (run: ApplyJson, host: string, id: string) => run.hosts.find((h) => h.host === host)?.items.find((i) => i.id === id)?.status;

/** Writes nodes/<name>.json: how to reach the booted host, and the vars its templates use. */
function writeNode(m: Machine, vars: Record<string, unknown>): void {
  const entry = m.inventoryHost();
  const node = { address: entry.address, port: entry.port, user: entry.user, transport: 'ssh', transportOptions: entry.transportOptions, vars };
  writeFileSync(path.join(site, 'nodes', `${m.name}.json`), `${JSON.stringify(node, null, 2)}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function get(port: number): Promise<{ body: string; server: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return { body: await res.text(), server: res.headers.get('server') };
}

beforeAll(() => {
  mkdirSync(path.join(example, 'sandbox'), { recursive: true });
  site = mkdtempSync(path.join(example, 'sandbox', 'day-'));
  for (const entry of ['fettle.config.ts', 'inventory.conf', 'roles', 'templates']) cpSync(path.join(example, entry), path.join(site, entry), { recursive: true });
  mkdirSync(path.join(site, 'nodes'));
});
afterAll(() => rmSync(site, { recursive: true, force: true }));

describe.skipIf(machines.skip)("a web server's day on booted hosts", () => {
  it('installs lighttpd, configures it from a template, enables and starts it: the test reads the page over the network', async () => {
    for (const m of machines.all()) {
      // Each host's own port: the hosts share the test machine's loopback.
      httpPorts[m.name] = await freePort();
      writeNode(m, { http_port: httpPorts[m.name], server_tag: 'fettle-day-1', greeting: 'Good morning' });
    }
    const first = await apply();
    expect(first.summary).toMatchObject({ failed: 0, unreachable: 0, hosts: 2 });
    for (const m of machines.all()) {
      expect(status(first, m.name, 'pkg_apt:lighttpd')).toBe('changed');
      expect(status(first, m.name, 'svc_systemd:lighttpd')).toBe('changed');
      expect(await m.sh('systemctl is-enabled lighttpd; systemctl is-active lighttpd')).toBe('enabled\nactive');
      expect(await get(httpPorts[m.name] ?? 0)).toEqual({ body: `<h1>Good morning from ${m.name}</h1>\n`, server: 'fettle-day-1' });
    }
  });

  it('a config change reloads the server (same process), and the change shows over the network', async () => {
    const web1 = machines.get('web1');
    const pidBefore = await web1.sh('systemctl show -p MainPID --value lighttpd');
    writeNode(web1, { http_port: httpPorts['web1'], server_tag: 'fettle-day-2', greeting: 'Good morning' });
    const changed = await apply();
    expect(changed.summary).toMatchObject({ failed: 0 });
    expect(status(changed, 'web1', 'template:/etc/lighttpd/lighttpd.conf')).toBe('changed');
    expect(status(changed, 'web1', 'svc_systemd_reload:lighttpd')).toBe('changed');
    expect(status(changed, 'web2', 'svc_systemd_reload:lighttpd')).toBe('skipped');
    expect((await get(httpPorts['web1'] ?? 0)).server).toBe('fettle-day-2');
    expect((await get(httpPorts['web2'] ?? 0)).server).toBe('fettle-day-1');
    expect(await web1.sh('systemctl show -p MainPID --value lighttpd')).toBe(pidBefore);
  });

  it('a second apply changes nothing: 1 connection and at most 2 commands per host (sshd counts inside each host)', async () => {
    const marks = await Promise.all(machines.all().map((m) => m.mark()));
    const again = await apply();
    expect(again.summary).toMatchObject({ changed: 0, failed: 0, unreachable: 0, hosts: 2 });
    for (const [i, m] of machines.all().entries()) {
      const counts = await m.countsSince(marks[i] ?? { offset: 0 });
      expect(counts.connections).toBe(1);
      expect(counts.execs).toBeLessThanOrEqual(2);
      expect(counts.sftp).toBe(0);
    }
  });
});
