import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bin, sitesRoot } from './test-sites.js';

const dir = mkdtempSync(path.join(sitesRoot, 'fact-clash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A plugin package in the site's node_modules whose fact is named `net.probe`. */
function pluginPackage(name: string): void {
  const pkgDir = path.join(dir, 'node_modules', name);
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './index.js', keywords: ['fettle-plugin'] }));
  writeFileSync(
    path.join(pkgDir, 'index.js'),
    `import { defineFact, definePlugin } from '@fettle/core';
const probe = defineFact({ name: 'net.probe', command: () => 'true', parse: (_out, queries) => queries.map(() => '${name}') });
export default definePlugin({ name: '${name}', facts: [probe] });
`,
  );
}

describe('two plugins defining one fact name', () => {
  it('fail before any host is touched: exit 3 naming both packages', () => {
    pluginPackage('fettle-plugin-netprobe');
    pluginPackage('@acme/fettle-plugin-probe');
    writeFileSync(
      path.join(dir, 'fettle.config.mjs'),
      `import { MemoryHostStore, defineSite } from '@fettle/core';
import local from '@fettle/transport-local';
import netprobe from 'fettle-plugin-netprobe';
import probe from '@acme/fettle-plugin-probe';
export default defineSite({
  plugins: [local, netprobe, probe],
  hosts: new MemoryHostStore({ hosts: { h1: { transport: 'local', transportOptions: { root: 'sandbox' } } }, defaultRoles: ['none'] }),
  roles: { none: () => ({}) },
});
`,
    );
    const result = spawnSync(process.execPath, [bin, 'plan', '--site', dir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("fact 'net.probe' is provided by two plugins: 'fettle-plugin-netprobe' and '@acme/fettle-plugin-probe'");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const plugins = spawnSync(process.execPath, [bin, 'plugins', '--site', dir], { encoding: 'utf8' });
    expect(plugins.status).toBe(3);
  });
});
