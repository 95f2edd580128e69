// A template rendered onto a real test host: sshd from @fettle/testkit, reached
// through @fettle/transport-ssh, the host's "/" sandboxed in a kit target folder.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryHostStore, Registry, defineSite, runSite, type HostResult, type RunMode, type SecretStore, type Task } from '@fettle/core';
import files from '@fettle/items-files';
import ssh from '@fettle/transport-ssh';
import { sshdForTests } from '@fettle/testkit';
import templates, { renderTemplate } from './index.js';

const sshd = sshdForTests({ hosts: ['node1', 'ro1'] });
let siteDir: string;
const reloads: string[] = [];
const SECRET = 'hunter2-very-secret';

beforeAll(async () => {
  await sshd.start();
  siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-eta-site-'));
  await writeFile(
    path.join(siteDir, 'app.conf.eta'),
    '<% hash %><%= vars.version %><% /hash %>\n# app <%= vars.version %>\ngreeting = <%= vars.greeting %>\nport = <%= context.port %>\n',
  );
  await writeFile(path.join(siteDir, 'plain.eta'), 'greeting=<%= vars.greeting %>\npassword=<%= context.password %>\n');
  await writeFile(path.join(siteDir, 'inline-secret.eta'), 'password=<%= secret("db") %>\n');
});
afterAll(async () => {
  await sshd.stop();
  await rm(siteDir, { recursive: true, force: true });
});

const secrets: SecretStore = {
  describe: 'test secrets',
  list: () => Promise.resolve(['db']),
  get: () => Promise.resolve(SECRET),
  set: () => Promise.reject(new Error('read-only')),
};

function site(vars: Record<string, unknown>, extraItems: Record<string, Record<string, unknown>> = {}) {
  const kit = sshd.get();
  const target = (name: string) => ({
    address: '127.0.0.1',
    port: kit.port,
    user: kit.user,
    transport: 'ssh',
    transportOptions: { identityFile: kit.clientKeyPath, knownHosts: kit.knownHostsPath, sshConfig: false, agent: false, root: kit.hosts[name]?.root ?? '' },
    vars,
  });
  // Carthage's mako_task + install: a task whose hash is the template's hash block.
  const reload: Task = {
    id: 'reload-app',
    description: 'reload the app after its config changed',
    hash: async (context) => (await renderTemplate({ siteDir: context.siteDir, source: 'app.conf.eta', host: context.host, context: { port: 8080 } })).hash ?? '',
    run: (context) => {
      reloads.push(context.host.name);
      return Promise.resolve();
    },
  };
  return defineSite({
    plugins: [files, ssh, templates],
    secrets,
    hosts: new MemoryHostStore({ hosts: { node1: target('node1'), ro1: { ...target('ro1'), readonly: true } }, defaultRoles: ['app'] }),
    roles: {
      app: (_host, role) => ({
        items: {
          'directory:/etc/app': {},
          'template:/etc/app/app.conf': { source: 'app.conf.eta', context: { port: 8080 } },
          // No mode: a secret in the context makes it 0600.
          'template:/etc/app/plain.conf': { source: 'plain.eta', context: { password: role.secret('db') } },
          ...extraItems,
        },
        tasks: [reload],
      }),
    },
  });
}

async function run(vars: Record<string, unknown>, mode: RunMode = 'apply', hostName = 'node1', extraItems = {}): Promise<HostResult> {
  const config = site(vars, extraItems);
  const hosts = (await config.hosts.listHosts()).filter((host) => host.name === hostName);
  const result = await runSite({ site: config, siteDir, registry: new Registry(config.plugins), hosts, mode });
  return result.hosts[0] as HostResult;
}

const root = (name = 'node1') => sshd.get().hosts[name]?.root ?? '';
const onHost = (file: string, name = 'node1') => readFile(path.join(root(name), file), 'utf8');
const statusOf = (result: HostResult) => Object.fromEntries(result.items.map((item) => [item.id, item.status]));

describe('template item over ssh', () => {
  it('renders onto the host with host vars, context and secrets, and stamps the hash', async () => {
    const result = await run({ version: '1.24', greeting: 'hello' });
    expect(result.status).toBe('changed');
    expect(await onHost('etc/app/app.conf')).toBe('# app 1.24\ngreeting = hello\nport = 8080\n');
    expect(await onHost('etc/app/plain.conf')).toBe(`greeting=hello\npassword=${SECRET}\n`);
    expect((await stat(path.join(root(), 'etc/app/plain.conf'))).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(root(), 'var/lib/fettle/stamps/node1/template%3A%2Fetc%2Fapp%2Fapp.conf'))).toBe(true);
    expect(reloads).toEqual(['node1']);
    // The secret never shows in the report: an item carrying one shows no content diff.
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(result.items.find((item) => item.id === 'template:/etc/app/plain.conf')?.detail).toBe('content: <secret content changed>');
  });

  it('costs one remote command when nothing changed (stat, stamps and task stamps together)', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const result = await run({ version: '1.24', greeting: 'hello' });
    expect(result.status).toBe('ok');
    expect(result.roundTrips).toEqual({ execs: 1, fileWrites: 0, fileReads: 0 });
    expect((await kit.countsSince(mark)).execs).toBe(1);
  });

  it('does not re-render when only a var outside the hash block changed', async () => {
    const result = await run({ version: '1.24', greeting: 'bonjour' });
    expect(statusOf(result)).toMatchObject({ 'template:/etc/app/app.conf': 'ok', 'template:/etc/app/plain.conf': 'changed', 'task:reload-app': 'ok' });
    expect(await onHost('etc/app/app.conf')).toBe('# app 1.24\ngreeting = hello\nport = 8080\n');
    expect(await onHost('etc/app/plain.conf')).toContain('greeting=bonjour');
  });

  it('re-renders when the hash input changed, and re-runs the task hashed on it', async () => {
    const plan = await run({ version: '1.25', greeting: 'bonjour' }, 'plan');
    const planned = plan.items.find((item) => item.id === 'template:/etc/app/app.conf');
    expect(planned?.status).toBe('wouldChange');
    expect(planned?.diff?.[0]?.key).toBe('hash');
    expect(planned?.detail).toContain('-# app 1.24');
    expect(planned?.detail).toContain('+# app 1.25');
    expect(plan.items.find((item) => item.id === 'task:reload-app')?.reason).toBe('hash changed from 1.24 to 1.25');

    const result = await run({ version: '1.25', greeting: 'bonjour' });
    expect(statusOf(result)).toMatchObject({ 'template:/etc/app/app.conf': 'changed', 'task:reload-app': 'changed' });
    expect(await onHost('etc/app/app.conf')).toBe('# app 1.25\ngreeting = bonjour\nport = 8080\n');
    expect(reloads).toEqual(['node1', 'node1']);
    expect((await run({ version: '1.25', greeting: 'bonjour' })).status).toBe('ok');
  });

  it('re-renders a hashed template whose file went missing', async () => {
    await rm(path.join(root(), 'etc/app/app.conf'));
    const result = await run({ version: '1.25', greeting: 'bonjour' });
    expect(statusOf(result)['template:/etc/app/app.conf']).toBe('changed');
    expect(await onHost('etc/app/app.conf')).toContain('# app 1.25');
  });

  it('renders secret() inside a template lazily, writes it 0600, and redacts it from every report', async () => {
    const extra = { 'template:/etc/app/inline.conf': { source: 'inline-secret.eta' } };
    const plan = await run({ version: '1.25', greeting: 'bonjour' }, 'plan', 'node1', extra);
    expect(plan.items.find((entry) => entry.id === 'template:/etc/app/inline.conf')?.status).toBe('wouldChange');
    const applied = await run({ version: '1.25', greeting: 'bonjour' }, 'apply', 'node1', extra);
    const item = applied.items.find((entry) => entry.id === 'template:/etc/app/inline.conf');
    expect(item?.status).toBe('changed');
    expect(JSON.stringify([plan, applied])).not.toContain(SECRET);
    expect(await onHost('etc/app/inline.conf')).toBe(`password=${SECRET}\n`);
    expect((await stat(path.join(root('node1'), 'etc/app/inline.conf'))).mode & 0o777).toBe(0o600);
  });

  it('leaves a readonly host untouched and says so', async () => {
    const result = await run({ version: '1.24', greeting: 'hello' }, 'apply', 'ro1');
    expect(result.readonly).toBe(true);
    expect(existsSync(path.join(root('ro1'), 'etc'))).toBe(false);
    expect(existsSync(path.join(root('ro1'), 'var'))).toBe(false);
    expect(result.items.find((item) => item.id === 'task:reload-app')?.reason).toBe('readonly host, not run (would run: no stamp)');
  });
});
