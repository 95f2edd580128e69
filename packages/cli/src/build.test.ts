import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, mintEpochVersion } from './site-package/version.js';
import { bin, example, removedAfterAll, sitesRoot } from './test-sites.js';

const made = removedAfterAll();

function fettle(args: string[], cwd?: string) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function exampleCopy(): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'build-'));
  made.push(dir);
  for (const entry of ['fettle.config.ts', 'roles', 'items', 'package.json']) cpSync(path.join(example, entry), path.join(dir, entry), { recursive: true });
  return dir;
}

interface Build {
  name: string;
  version: string;
  bundle: string;
  tarball: string;
  integrity: string;
}

function build(dir: string): Build {
  const result = fettle(['build', '--site', dir, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Build;
}

function fileInTarball(tarball: string, file: string): string {
  return execFileSync('tar', ['-xzOf', tarball, `package/${file}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

describe('fettle build', () => {
  it('mints major.minor.epoch; two builds give two increasing versions', () => {
    const dir = exampleCopy();
    const first = build(dir);
    const second = build(dir);
    expect(first.version).toMatch(/^0\.0\.\d{10,}$/);
    expect(compareVersions(second.version, first.version)).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'dist/build.json'), 'utf8'))).toMatchObject({ version: second.version, integrity: second.integrity });

    // The version is written into the package, whose dependencies are the site's plugins.
    const manifest = JSON.parse(fileInTarball(second.tarball, 'package.json')) as { name: string; version: string; dependencies: Record<string, string>; scripts?: unknown };
    expect(manifest).toMatchObject({ name: '@fettle/example-site-basic', version: second.version });
    expect(Object.keys(manifest.dependencies)).toEqual(expect.arrayContaining(['@fettle/items-files', '@fettle/transport-local', '@fettle/core']));
    expect(Object.values(manifest.dependencies).some((range) => range.startsWith('workspace:'))).toBe(false);
    expect(manifest.scripts).toBeUndefined();
    expect(fileInTarball(second.tarball, 'roles/base.ts')).toContain('defineRole');
    expect(fileInTarball(second.tarball, 'bundle.mjs').length).toBeGreaterThan(10_000);

    expect(fettle(['version', '--site', dir]).stdout).toBe(`@fettle/example-site-basic 0.0.0 (source; last build ${second.version})\n`);

    // The output folder keeps the newest three builds.
    const third = build(dir);
    const fourth = build(dir);
    const kept = readdirSync(path.join(dir, 'dist')).filter((file) => file.endsWith('.mjs')).sort();
    expect(kept).toEqual([second, third, fourth].map((entry) => `fettle-example-site-basic-${entry.version}.mjs`).sort());
    expect(readdirSync(path.join(dir, 'dist')).filter((file) => file.endsWith('.tgz'))).toHaveLength(3);
  });

  it('the epoch version still increases when two builds fall in one second', () => {
    const now = Date.UTC(2026, 11, 1);
    const first = mintEpochVersion({ name: 's', packageVersion: '2.3.0', previous: undefined }, now);
    expect(first).toBe(`2.3.${now / 1000}`);
    expect(mintEpochVersion({ name: 's', packageVersion: '2.3.0', previous: first }, now)).toBe(`2.3.${now / 1000 + 1}`);
    expect(mintEpochVersion({ name: 's', packageVersion: undefined, previous: undefined }, now)).toBe(`1.0.${now / 1000}`);
  });

  it("uses the site's own mintVersion() and refuses one that is no version", () => {
    const dir = exampleCopy();
    const config = path.join(dir, 'fettle.config.ts');
    const original = readFileSync(config, 'utf8');
    writeFileSync(config, `${original}\nexport function mintVersion({ previous }: { previous?: string }) { return previous ? '7.3.43' : '7.3.42'; }\n`);
    expect(build(dir).version).toBe('7.3.42');
    const second = build(dir);
    expect(second.version).toBe('7.3.43');
    const copy = mkdtempSync(path.join(os.tmpdir(), 'fettle-bundle-version-'));
    made.push(copy);
    copyFileSync(second.bundle, path.join(copy, 'site.mjs'));
    expect(execFileSync(process.execPath, ['site.mjs', 'version'], { cwd: copy, encoding: 'utf8' })).toBe('@fettle/example-site-basic 7.3.43\n');

    writeFileSync(config, `${original}\nexport const mintVersion = () => 'next';\n`);
    const bad = fettle(['build', '--site', dir]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/mintVersion\(\) returned "next", which is not a version npm accepts/);
  });

  it('the bundle runs where only node is installed: no node_modules beside it or above it', () => {
    const dir = exampleCopy();
    const { bundle, version } = build(dir);
    // os.tmpdir() is outside the repository, so no node_modules is found by walking up.
    const target = mkdtempSync(path.join(os.tmpdir(), 'fettle-bundle-'));
    made.push(target);
    copyFileSync(bundle, path.join(target, 'site.mjs'));
    let folder = target;
    while (folder !== path.dirname(folder)) {
      expect(existsSync(path.join(folder, 'node_modules'))).toBe(false);
      folder = path.dirname(folder);
    }
    const root = path.join(target, 'root');
    const run = (args: string[]) => spawnSync(process.execPath, ['site.mjs', ...args], { cwd: target, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NO_COLOR: '1' } });

    const first = run(['apply', '--node', 'node1', '--root', root, '--json']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ summary: { changed: 9, failed: 0, hosts: 1 } });
    expect(readFileSync(path.join(root, 'etc/fettle-demo/motd'), 'utf8')).toBe('Hello from node1, this is node1.\nManaged by fettle; contact ops@example.org.\n');
    // The site's files were unpacked beside the bundle, once per version.
    expect(existsSync(path.join(target, `fettle-example-site-basic-${version}.site/roles/base.ts`))).toBe(true);

    const second = run(['apply', '--node', 'node1', '--root', root, '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ summary: { changed: 0, ok: 9, failed: 0 } });
    const stranger = run(['apply', '--node', 'node9', '--root', root]);
    expect(stranger.status).toBe(3);
    expect(stranger.stderr).toMatch(/no host named 'node9' in the site.*expected one of node1, node2/s);
  });

  it('refuses to build a site with problems, or with a private key among its files', () => {
    const broken = exampleCopy();
    writeFileSync(path.join(broken, 'roles/web.ts'), `import { defineRole } from '@fettle/core';\nexport const web = defineRole(() => ({ 'file:/srv/x': { mode: 'rw' } }));\n`);
    const result = fettle(['build', '--site', broken]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/1 problem; nothing was built:\n\s+node1: host node1, role web \(roles\/web\.ts:\d+\), item file:\/srv\/x/);
    expect(existsSync(path.join(broken, 'dist'))).toBe(false);

    const leaky = exampleCopy();
    execFileSync('age-keygen', ['-o', path.join(leaky, 'controller.key')], { stdio: 'ignore' });
    const leak = fettle(['build', '--site', leaky]);
    expect(leak.code).toBe(3);
    expect(leak.stderr).toMatch(/controller\.key holds a private age key in plain text/);
    expect(existsSync(path.join(leaky, 'dist/build.json'))).toBe(false);
  });
});
