// fettle as a new user gets it: every workspace package published to a real registry
// (Verdaccio on 127.0.0.1), then, in a fresh folder outside the repository with no
// workspace links, a site started with `fettle init` and grown with `fettle add`.
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRegistry, type RegistryKit } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorThirdParty, packument, publishWorkspace } from './publish.js';
import { publishablePackages, repoRoot } from './workspace.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let registry: RegistryKit;
let work: string;
let env: NodeJS.ProcessEnv;

/** Runs a program; never throws for an exit code, so tests can assert on it. */
function run(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd, env, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024, timeout: 240_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function ok(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  const ran = await run(command, args, cwd);
  if (ran.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${ran.code}\n${ran.stdout}\n${ran.stderr}`);
  return ran;
}

/** A throwaway package published straight to the test registry. */
async function publishFixture(name: string, manifest: Record<string, unknown>, files: Record<string, string>): Promise<void> {
  const dir = path.join(work, 'fixtures', name.replace('/', '+'));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', ...manifest }));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  await ok('npm', ['publish'], dir);
}

beforeAll(async () => {
  // No uplink: the third-party packages come from this machine's install (mirrorThirdParty), never the network.
  registry = await startRegistry({ uplink: false });
  work = await mkdtemp(path.join(tmpdir(), 'fettle-e2e-'));
  expect(path.relative(repoRoot, work).startsWith('..')).toBe(true);
  // A fresh npm cache: a package of the same version from an earlier run's registry must not be reused.
  env = registry.env({ npm_config_cache: path.join(work, 'npm-cache'), NO_COLOR: '1' });
  // Whatever ran the tests (pnpm, a site) must not leak into the user's shell we imitate.
  for (const name of ['npm_config_user_agent', 'FETTLE_SITE', 'npm_config_prefix', 'npm_config_global', 'npm_config_workspace']) delete env[name];
  await publishWorkspace(registry);
  expect(await mirrorThirdParty(registry)).toEqual(expect.arrayContaining([expect.stringMatching(/^zod@/), expect.stringMatching(/^ssh2@/), expect.stringMatching(/^esbuild@/)]));
}, 600_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('publishing the workspace', () => {
  it('puts every package on the registry, with no workspace: range left', async () => {
    for (const { manifest } of publishablePackages()) {
      const doc = await packument(registry, manifest.name);
      expect(doc?.['dist-tags'].latest, manifest.name).toBe(manifest.version);
      const published = doc?.versions[manifest.version];
      const ranges = { ...published?.dependencies, ...published?.peerDependencies };
      for (const [dep, range] of Object.entries(ranges)) {
        expect(range, `${manifest.name} → ${dep}`).not.toMatch(/^workspace:/);
        if (dep.startsWith('@fettle/') || dep === 'create-fettle') expect(range, `${manifest.name} → ${dep}`).toMatch(/^\^\d+\.\d+\.\d+$/);
      }
    }
  });
});

describe('a site started in an empty folder', () => {
  let site: string;
  const fettle = (...args: string[]): Promise<Ran> => run(path.join(site, 'node_modules/.bin/fettle'), args, site);

  it('fettle init writes a site and installs it from the registry', async () => {
    await ok('npm', ['exec', '--yes', '--package=@fettle/cli@latest', '--', 'fettle', 'init', 'site'], work);
    site = path.join(work, 'site');
    const manifest = JSON.parse(await readFile(path.join(site, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@fettle/cli', '@fettle/core', '@fettle/inventory-conf', '@fettle/items-files', '@fettle/transport-ssh']);
    // Installed from the registry, not linked from the workspace.
    expect((await lstat(path.join(site, 'node_modules/@fettle/core'))).isSymbolicLink()).toBe(false);
    expect(await readFile(path.join(site, 'package-lock.json'), 'utf8')).not.toMatch(/"link": true|workspace:|file:/);
    expect((await fettle('validate')).code).toBe(0);
  });

  it('fettle add apt, then the example plugin by its short name, then the local transport', async () => {
    const apt = await fettle('add', 'apt');
    expect(apt.code, apt.stderr).toBe(0);
    expect(apt.stdout).toMatch(/^added @fettle\/items-apt@0\.\d+\.\d+ as apt: item types pkg_apt/m);
    const sysctl = await fettle('add', 'sysctl', 'local');
    expect(sysctl.code, sysctl.stderr).toBe(0);
    expect(sysctl.stdout).toMatch(/^added fettle-plugin-sysctl@0\.1\.0 as sysctl: item types sysctl; facts sysctl\.live, sysctl\.persisted$/m);
    expect(sysctl.stdout).toMatch(/^added @fettle\/transport-local@.* as local: transports local$/m);
    const config = await readFile(path.join(site, 'fettle.config.ts'), 'utf8');
    expect(config).toContain("import apt from '@fettle/items-apt';\nimport sysctl from 'fettle-plugin-sysctl';\nimport local from '@fettle/transport-local';\n");
    expect(config).toContain('plugins: [inventory, files, ssh, apt, sysctl, local],');
  });

  it('plans and applies on the local transport in a sandbox root', async () => {
    // The sandbox stands for a host's /, which has an /etc.
    await mkdir(path.join(site, 'sandbox/web1/etc'), { recursive: true });
    await writeFile(path.join(site, 'nodes/web1.json'), JSON.stringify({ transport: 'local', transportOptions: { root: 'sandbox/web1' }, vars: { motd: 'Hello' } }));
    const role = await readFile(path.join(site, 'roles/base.ts'), 'utf8');
    await writeFile(path.join(site, 'roles/base.ts'), role.replace("'file:/etc/motd'", "'sysctl:vm.swappiness': { value: 10 },\n  'file:/etc/motd'"));
    const plan = await fettle('plan');
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('sysctl:vm.swappiness');
    const apply = await fettle('apply', '--json');
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    expect((JSON.parse(apply.stdout) as { summary: unknown }).summary).toMatchObject({ changed: 2, failed: 0 });
    expect(await readFile(path.join(site, 'sandbox/web1/etc/sysctl.d/90-fettle-vm.swappiness.conf'), 'utf8')).toBe('# managed by fettle\nvm.swappiness = 10\n');
    expect(await readFile(path.join(site, 'sandbox/web1/etc/motd'), 'utf8')).toBe('Hello\nThis is web1.\n');
    const again = await fettle('apply', '--json');
    expect((JSON.parse(again.stdout) as { summary: unknown }).summary).toMatchObject({ changed: 0, ok: 2 });
  });

  it('fettle plugins lists exactly what init and add put there, with versions and contributions', async () => {
    const listed = await fettle('plugins', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const plugins = (JSON.parse(listed.stdout) as { plugins: { name: string; version: string; provides: Record<string, string[]> }[] }).plugins;
    expect(plugins.map((plugin) => plugin.name)).toEqual([
      '@fettle/inventory-conf',
      '@fettle/items-files',
      '@fettle/transport-ssh',
      '@fettle/items-apt',
      'fettle-plugin-sysctl',
      '@fettle/transport-local',
    ]);
    expect(plugins.every((plugin) => /^\d+\.\d+\.\d+$/.test(plugin.version))).toBe(true);
    expect(plugins.find((plugin) => plugin.name === 'fettle-plugin-sysctl')?.provides).toMatchObject({ 'item types': ['sysctl'], facts: ['sysctl.live', 'sysctl.persisted'] });
    expect(plugins.find((plugin) => plugin.name === '@fettle/inventory-conf')?.provides['host stores']).toEqual(['inventory-conf']);
  });

  it('fettle add keeps a hand-formatted config intact, changes nothing the second time, and refuses what is not a plugin (exit 3)', async () => {
    const configPath = path.join(site, 'fettle.config.ts');
    const handFormatted = `// Our fleet.   Formatted by hand.
import path from 'node:path';
import { defineSite } from '@fettle/core';
import inventory, { inventoryConf } from '@fettle/inventory-conf';

import files from '@fettle/items-files'; // files first
import local from '@fettle/transport-local';
import sysctl from 'fettle-plugin-sysctl';
import { base } from './roles/base.js';

/* The site. */
export default defineSite({
  plugins: [
    inventory,
    files,   // aligned by hand

    local,
    sysctl,
  ],

  hosts: await inventoryConf(path.join(import.meta.dirname, 'inventory.conf')),
  roles: { base },
});
`;
    await writeFile(configPath, handFormatted);
    const added = await fettle('add', 'users');
    expect(added.code, added.stderr).toBe(0);
    const after = await readFile(configPath, 'utf8');
    expect(after).toBe(
      handFormatted
        .replace("import { base } from './roles/base.js';", "import { base } from './roles/base.js';\nimport users from '@fettle/items-users';")
        .replace('    sysctl,\n', '    sysctl,\n    users,\n'),
    );
    const manifestBefore = await readFile(path.join(site, 'package.json'), 'utf8');
    const twice = await fettle('add', 'users');
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain('@fettle/items-users is already in the site');
    expect(await readFile(configPath, 'utf8')).toBe(after);
    expect(await readFile(path.join(site, 'package.json'), 'utf8')).toBe(manifestBefore);

    await publishFixture('@fettle-test/not-a-plugin', { exports: './index.js' }, { 'index.js': 'export default 42;\n' });
    await publishFixture('@fettle-test/fake-plugin', { keywords: ['fettle-plugin'], exports: './index.js' }, { 'index.js': 'export default { hello: "world" };\n' });
    await publishFixture('@fettle-test/ts-only', { keywords: ['fettle-plugin'], exports: './src/index.ts' }, { 'src/index.ts': 'export default {};\n' });

    const notPlugin = await fettle('add', '@fettle-test/not-a-plugin');
    expect(notPlugin.code).toBe(3);
    expect(notPlugin.stderr).toContain('@fettle-test/not-a-plugin is not a fettle plugin: its package.json has no "fettle-plugin" keyword');
    const fake = await fettle('add', '@fettle-test/fake-plugin');
    expect(fake.code).toBe(3);
    expect(fake.stderr).toContain('@fettle-test/fake-plugin is not a fettle plugin: its default export is not definePlugin');
    const tsOnly = await fettle('add', '@fettle-test/ts-only');
    expect(tsOnly.code).toBe(3);
    expect(tsOnly.stderr).toMatch(/published as TypeScript source only[\s\S]*hint: its author should build it to JavaScript/);
    // Nothing of the refused packages is left in the site.
    expect(await readFile(configPath, 'utf8')).toBe(after);
    expect(await readFile(path.join(site, 'package.json'), 'utf8')).toBe(manifestBefore);
    expect(notPlugin.stderr + fake.stderr).not.toMatch(/\n\s+at /);
  });

  it('npm create fettle starts a site too', async () => {
    await ok('npm', ['create', '--yes', 'fettle@latest', 'site2', '--', '--no-install'], work);
    expect(await readFile(path.join(work, 'site2/fettle.config.ts'), 'utf8')).toContain('defineSite({');
  });
});
