// Stores named as data: `hosts: { store, options }` and `secrets: { store, options }` in
// fettle.config.ts are made by the plugin whose hostStores/secretStores entry has that name.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, removedAfterAll, sitesRoot } from './test-sites.js';

const made = removedAfterAll();

function fettle(dir: string, args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--site', dir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function site(hosts: string, secrets: string): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'stores-'));
  made.push(dir);
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite, definePlugin } from '@fettle/core';
import age from '@fettle/secrets-age';
import local from '@fettle/transport-local';

// A host store plugin, as a third party would write one: made from data by name.
const memoryStores = definePlugin({
  name: 'test-memory-stores',
  hostStores: [{ name: 'memory', description: 'hosts from the options', create: (options) => Promise.resolve(new MemoryHostStore(options as never)) }],
});

export default defineSite({
  plugins: [memoryStores, age, local],
  hosts: ${hosts},
  secrets: ${secrets},
  roles: { base: () => ({}) },
});
`,
  );
  return dir;
}

describe('stores named as data', () => {
  it('makes the host store and the secret store through the plugins that provide them', () => {
    const identity = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const recipient = /public key: (age1\w+)/.exec(identity)?.[1] ?? '';
    expect(recipient).toMatch(/^age1/);
    const dir = site(
      `{ store: 'memory', options: { hosts: { db1: { transport: 'local' }, db2: { transport: 'local' } }, groups: { db: ['db1', 'db2'] }, defaultRoles: ['base'] } }`,
      `{ store: 'age', options: { controllerRecipient: '${recipient}' } }`,
    );
    mkdirSync(path.join(dir, 'secrets'));
    execFileSync('age', ['-r', recipient, '-o', path.join(dir, 'secrets/db-password.age')], { input: 'not printed\n' });

    const hosts = fettle(dir, ['hosts', '--json']);
    expect(hosts.stderr).toBe('');
    expect(hosts.code).toBe(0);
    const listed = JSON.parse(hosts.stdout) as { hosts: { name: string }[] };
    expect(listed.hosts.map((host) => host.name)).toEqual(['db1', 'db2']);

    const secrets = fettle(dir, ['secret', 'list']);
    expect(secrets.code).toBe(0);
    expect(secrets.stdout).toContain('db-password');
  });

  it('names a store no plugin provides: exit 3, before any host, with the stores it knows', () => {
    const dir = site(`{ store: 'ldap' }`, `{ store: 'age', options: { controllerRecipient: 'age1x' } }`);
    const run = fettle(dir, ['plan']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no host store named "ldap"');
    expect(run.stderr).toContain('hosts.store');
    expect(run.stderr).toContain('memory');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
