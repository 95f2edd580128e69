// fettle publish to a real Verdaccio, and fettle pull on a "node": a folder outside the repository
// holding nothing but the first site bundle, run with node, writing into its own root.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RegistryKit } from '@fettle/testkit';
import { bin, sitesRoot } from './test-sites.js';

mkdirSync(sitesRoot, { recursive: true });
const NAME = '@fettle-test/pull-site';

let registry: RegistryKit;
const site = mkdtempSync(path.join(sitesRoot, 'pull-'));
const node = mkdtempSync(path.join(os.tmpdir(), 'fettle-node-'));
const root = path.join(node, 'root');
const state = path.join(root, 'var/lib/fettle/pull');
const textfile = path.join(root, 'var/lib/prometheus/node-exporter/fettle.prom');

function role(files: Record<string, string>): void {
  const items = Object.entries(files).map(([file, content]) => `    'file:${file}': { content: ${JSON.stringify(content)}, needs: ['directory:/etc/app'] },`);
  writeFileSync(path.join(site, 'roles.ts'), `export const app = () => ({\n    'directory:/etc/app': { mode: '0755' },\n${items.join('\n')}\n});\n`);
}

function fettle(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--site', site], { encoding: 'utf8', env: registry.env({ NO_COLOR: '1' }) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function release(): string {
  const built = fettle(['build', '--json']);
  expect(built.stderr).toBe('');
  expect(built.code).toBe(0);
  const published = fettle(['publish', '--json']);
  expect(published.stderr).toBe('');
  expect(published.code).toBe(0);
  return (JSON.parse(published.stdout) as { version: string }).version;
}

/** Run the node's bundle (not the workspace CLI) with only the registry settings in its environment. */
function pull(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: node, NO_COLOR: '1', npm_config_userconfig: registry.npmrc };
    const child = spawn(process.execPath, ['site.mjs', 'pull', '--node', 'node1', '--root', root, '--json', ...args], { cwd: node, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Report {
  version: string | null;
  wanted?: string;
  success: boolean;
  skipped?: boolean;
  summary: Record<string, number>;
  error?: string;
  registry: { requests: number; bytes: number };
}

function metrics(): Record<string, { labels?: Record<string, string>; value: string }[]> {
  const families = parsePrometheusTextFormat(readFileSync(textfile, 'utf8')) as { name: string; type: string; metrics: { labels?: Record<string, string>; value: string }[] }[];
  return Object.fromEntries(families.map((family) => [family.name, family.metrics]));
}

beforeAll(async () => {
  registry = await startRegistry({ uplink: false });
  writeFileSync(path.join(site, 'package.json'), JSON.stringify({ name: NAME, version: '1.0.0', type: 'module' }));
  writeFileSync(
    path.join(site, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import { app } from './roles.js';

export default defineSite({
  plugins: [files, local],
  hosts: new MemoryHostStore({ hosts: { node1: { transport: 'local' }, node2: { transport: 'local' } }, defaultRoles: ['app'] }),
  roles: { app },
});
`,
  );
}, 60_000);

afterAll(async () => {
  // The folders go first: when the registry never started, there is nothing to stop.
  rmSync(site, { recursive: true, force: true });
  rmSync(node, { recursive: true, force: true });
  await registry?.stop();
});

describe('fettle pull against a real Verdaccio', { timeout: 240_000 }, () => {
  let v1 = '';
  let v2 = '';

  it('a published version converges a node that has only node and a site bundle', async () => {
    role({ '/etc/app/a.conf': 'a=1\n' });
    v1 = release();
    copyFileSync(path.join(site, `dist/fettle-test-pull-site-${v1}.mjs`), path.join(node, 'site.mjs'));

    const first = await pull();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as Report;
    expect(report).toMatchObject({ version: v1, success: true, summary: { changed: 2, ok: 0, failed: 0, skipped: 0 } });
    expect(readFileSync(path.join(root, 'etc/app/a.conf'), 'utf8')).toBe('a=1\n');
    expect(readdirSync(path.join(state, 'versions'))).toEqual([v1]);
    expect(JSON.parse(readFileSync(path.join(state, 'last-run.json'), 'utf8'))).toMatchObject({ version: v1, success: true, node: 'node1' });

    // The textfile parses as the exposition format, with the four families node_exporter will serve.
    const families = metrics();
    expect(families['fettle_last_run_success']?.[0]?.value).toBe('1');
    expect(Number(families['fettle_last_run_timestamp_seconds']?.[0]?.value)).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(families['fettle_items']?.map((metric) => [metric.labels?.['state'], metric.value])).toEqual([
      ['changed', '2'],
      ['ok', '0'],
      ['failed', '0'],
      ['skipped', '0'],
    ]);
    expect(families['fettle_site_version_info']?.[0]).toMatchObject({ labels: { site: NAME, version: v1 }, value: '1' });
  });

  it('an unchanged version with a clean last run exits quickly without applying, unless --force', async () => {
    const again = await pull();
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as Report;
    expect(report).toMatchObject({ skipped: true, version: v1, success: true });
    const forced = JSON.parse((await pull(['--force'])).stdout) as Report;
    expect(forced).toMatchObject({ version: v1, success: true, summary: { changed: 0, ok: 2 } });
    expect(forced.skipped).toBeUndefined();
  });

  it('a new published version applies only the difference; the old version is kept for rollback', async () => {
    role({ '/etc/app/a.conf': 'a=1\n', '/etc/app/b.conf': 'b=2\n' });
    v2 = release();
    const result = await pull();
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report).toMatchObject({ version: v2, success: true, summary: { changed: 1, ok: 2, failed: 0 } });
    expect(readFileSync(path.join(root, 'etc/app/b.conf'), 'utf8')).toBe('b=2\n');
    expect(readdirSync(path.join(state, 'versions')).sort()).toEqual([v1, v2].sort());
    // A range and an exact version resolve too.
    expect((JSON.parse((await pull(['^1.0.0'])).stdout) as Report).skipped).toBe(true);
    const pinned = JSON.parse((await pull([v1])).stdout) as Report;
    // v1 wants what is already there (it does not manage b.conf, which stays).
    expect(pinned).toMatchObject({ version: v1, success: true, summary: { changed: 0, ok: 2 } });
    expect(existsSync(path.join(root, 'etc/app/b.conf'))).toBe(true);
    expect((JSON.parse((await pull([v2])).stdout) as Report).version).toBe(v2);
  });

  it('refuses a corrupted tarball: nothing installed, the report and the textfile say it failed', async () => {
    role({ '/etc/app/a.conf': 'a=3\n', '/etc/app/b.conf': 'b=2\n' });
    const v3 = release();
    const stored = path.join(path.dirname(registry.npmrc), 'storage', NAME, `pull-site-${v3}.tgz`);
    const data = readFileSync(stored);
    data[data.length - 100] = (data[data.length - 100] ?? 0) ^ 0xff;
    writeFileSync(stored, data);

    const result = await pull();
    expect(result.code).toBe(1);
    expect(`${result.stdout}${result.stderr}`).toMatch(/fails its integrity check; refused, nothing installed/);
    expect(readdirSync(path.join(state, 'versions')).sort()).toEqual([v1, v2].sort());
    expect(readFileSync(path.join(root, 'etc/app/a.conf'), 'utf8')).toBe('a=1\n');
    const report = JSON.parse(readFileSync(path.join(state, 'last-run.json'), 'utf8')) as Report;
    expect(report).toMatchObject({ version: v2, wanted: v3, success: false });
    expect(metrics()['fettle_last_run_success']?.[0]?.value).toBe('0');
    expect(metrics()['fettle_site_version_info']?.[0]?.labels?.['version']).toBe(v2);
    // Pinned to the good version again, the node converges.
    expect((await pull([v2])).code).toBe(0);
  });

  it('while the node is locked, a pull refuses at once, or waits with --lock-wait until the lock is freed', async () => {
    const lock = path.join(state, 'lock');
    const holder = spawn('sleep', ['30']);
    mkdirSync(lock);
    writeFileSync(path.join(lock, 'owner.json'), JSON.stringify({ pid: holder.pid, since: new Date().toISOString(), what: 'another run' }));
    try {
      // Pinned to v2: latest is the corrupted v3.
      const refused = await pull([v2, '--force']);
      expect(refused.code).toBe(1);
      expect(`${refused.stdout}${refused.stderr}`).toMatch(new RegExp(`the node is locked by another run \\(pid ${holder.pid}\\)`));

      const waitStart = Date.now();
      const waiting = pull([v2, '--force', '--lock-wait', '20']);
      setTimeout(() => rmSync(lock, { recursive: true, force: true }), 1500);
      const waited = await waiting;
      expect(waited.stderr).toBe('');
      expect(waited.code).toBe(0);
      expect(Date.now() - waitStart).toBeGreaterThanOrEqual(1500);
      expect((JSON.parse(waited.stdout) as Report).success).toBe(true);
      expect(existsSync(lock)).toBe(false);
    } finally {
      holder.kill();
    }
    // A lock left by a dead process is taken over.
    mkdirSync(lock);
    writeFileSync(path.join(lock, 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 7, since: new Date().toISOString(), what: 'a crashed run' }));
    expect((await pull([v2, '--force'])).code).toBe(0);
  });

  it('fettle report at the controller reads each node\'s last pull report: version, success, or never pulled', () => {
    // A controller's view of the fleet: node1 is the node above (its root), node2 a machine that never pulled.
    const controller = mkdtempSync(path.join(sitesRoot, 'report-'));
    try {
      const empty = path.join(controller, 'node2-root');
      mkdirSync(empty);
      writeFileSync(
        path.join(controller, 'fettle.config.ts'),
        `import { MemoryHostStore, defineSite } from '@fettle/core';
import local from '@fettle/transport-local';
export default defineSite({
  plugins: [local],
  hosts: new MemoryHostStore({ hosts: { node1: { transport: 'local', transportOptions: { root: ${JSON.stringify(root)} } }, node2: { transport: 'local', transportOptions: { root: ${JSON.stringify(empty)} } } } }),
  roles: {},
});
`,
      );
      const run = (args: string[]) => spawnSync(process.execPath, [bin, 'report', ...args, '--site', controller], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      const json = run(['--json']);
      expect(json.status).toBe(1);
      const { nodes, versions } = JSON.parse(json.stdout) as { nodes: { host: string; status: string; report?: Report }[]; versions: Record<string, number> };
      expect(nodes.map((entry) => [entry.host, entry.status, entry.report?.version, entry.report?.success])).toEqual([
        ['node1', 'reported', v2, true],
        ['node2', 'never-pulled', undefined, undefined],
      ]);
      expect(versions).toEqual({ [v2]: 1 });
      const text = run([]);
      expect(text.stdout).toMatch(new RegExp(`^node1\\s+ok\\s+${v2.replace(/\./g, '\\.')}`, 'm'));
      expect(text.stdout).toMatch(/^node2\s+never-pulled/m);
      expect(run(['node1']).status).toBe(0);
    } finally {
      rmSync(controller, { recursive: true, force: true });
    }
  });
});
