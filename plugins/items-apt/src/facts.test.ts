import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { factEnv, type CommandResult, type ItemContext } from '@fettle/core';
import { aptUpdate, dpkgStatus, pkgAptItem } from './index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const env = factEnv();

describe('apt.dpkg-status fact', () => {
  it('asks for every package in one dpkg-query', () => {
    expect(dpkgStatus.command(['bash', 'libc6:amd64', 'g++'], env).text).toBe(
      "dpkg-query -W -f '${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Version}\\n' bash libc6:amd64 g++",
    );
    expect(dpkgStatus.okCodes).toEqual([0, 1]);
  });

  it('refuses globs and options, which dpkg-query would interpret', () => {
    expect(() => dpkgStatus.command(['lib*'], env)).toThrow(/not a package name/);
    expect(() => dpkgStatus.command(['--help'], env)).toThrow(/not a package name/);
  });

  it('parses recorded output, packages it does not list being null', () => {
    const names = ['sl', 'bash', 'tzdata', 'dpkg', 'libc6'];
    expect(dpkgStatus.parse(fixture('dpkg-query-bookworm.txt'), names, env)).toEqual([
      null,
      { name: 'bash', architecture: 'amd64', status: 'ii', installed: true, version: '5.2.15-2+b8' },
      { name: 'tzdata', architecture: 'all', status: 'ii', installed: true, version: '2025b-0+deb12u2' },
      { name: 'dpkg', architecture: 'amd64', status: 'ii', installed: true, version: '1.21.22' },
      { name: 'libc6', architecture: 'amd64', status: 'ii', installed: true, version: '2.36-9+deb12u14' },
    ]);
    expect(dpkgStatus.parse(fixture('dpkg-query-installed.txt'), ['whois', 'sl'], env).map((pkg) => pkg?.version)).toEqual(['5.5.17', '5.02-1+b1']);
  });

  it('tells installed, half-installed, removed and multi-arch packages apart', () => {
    const names = ['libc6:i386', 'libc6', 'nginx-common', 'openssl', 'man-db', 'purged', 'libc6:arm64'];
    const [i386, libc6, rc, unpacked, triggers, purged, arm64] = dpkgStatus.parse(fixture('dpkg-query-states.txt'), names, env);
    expect(i386).toMatchObject({ architecture: 'i386', installed: true });
    expect(libc6).toMatchObject({ installed: true });
    expect(rc).toMatchObject({ status: 'rc', installed: false, version: null });
    expect(unpacked).toMatchObject({ status: 'iU', installed: false, version: '3.0.15-1~deb12u1' });
    expect(triggers).toMatchObject({ status: 'it', installed: true });
    expect(purged).toMatchObject({ status: 'un', installed: false, version: null });
    expect(arm64).toBeNull();
  });

  it('throws on output it does not understand', () => {
    expect(() => dpkgStatus.parse('garbage\n', ['x'], env)).toThrow(/unexpected line/);
  });
});

/** pkg_apt's fixMany, called as the engine calls it. */
function fixMany(entries: Parameters<NonNullable<typeof pkgAptItem.fixMany>>[0], context: ItemContext): Promise<void> {
  if (!pkgAptItem.fixMany) throw new Error('pkg_apt has fixMany');
  return pkgAptItem.fixMany(entries, context);
}

/** An ItemContext that records commands instead of running them. */
function recorder(answer: (command: string) => CommandResult = () => ({ code: 0, stdout: '', stderr: '' })) {
  const commands: string[] = [];
  const context: ItemContext = {
    host: { name: 'h1', transport: 'fake', transportOptions: {}, groups: [], roles: [], vars: {}, readonly: false },
    root: '/',
    siteDir: '/tmp',
    hostPath: (p) => factEnv().hostPath(p),
    fact: () => Promise.reject(new Error('no facts here')),
    run: (command) => {
      commands.push(command.text);
      return Promise.resolve(answer(command.text));
    },
    runChecked: () => Promise.reject(new Error('not used')),
    readFile: () => Promise.resolve(null),
    writeFile: () => Promise.resolve(),
    secret: () => Promise.reject(new Error('no secrets here')),
    warn: () => undefined,
  };
  return { context, commands };
}

const entry = (name: string, attrs: { installed?: boolean; version?: string; update_cache?: boolean }) => {
  const parsed = pkgAptItem.attributes.parse(attrs);
  const item = { id: `pkg_apt:${name}`, name, attrs: parsed };
  const cdict = parsed.installed ? { installed: true } : null;
  return { item, change: { cdict, sdict: parsed.installed ? null : { installed: true, version: '1' }, keys: [] } };
};

describe('pkg_apt fixMany', () => {
  it('installs everything of a wave with one apt-get install and removes with one apt-get remove', async () => {
    const { context, commands } = recorder();
    await fixMany([entry('sl', {}), entry('old', { installed: false }), entry('hello', { version: '2.10-3' }), entry('older', { installed: false })], context);
    expect(commands).toEqual([
      'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 -y remove old older',
      'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 -y --no-install-recommends --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install sl hello=2.10-3',
    ]);
  });

  it('runs apt-get update only when an item that installs asks for it', async () => {
    const removing = recorder();
    await fixMany([entry('old', { installed: false, update_cache: true })], removing.context);
    expect(removing.commands.join('\n')).not.toContain(' update');
    const installing = recorder();
    await fixMany([entry('sl', {}), entry('hello', { update_cache: true })], installing.context);
    expect(installing.commands).toHaveLength(1);
    expect(installing.commands[0]).toMatch(/^DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update && .* install sl hello$/);
  });

  it("fails with apt's message and says which step failed", async () => {
    const { context } = recorder((command) =>
      command.includes(' install ') ? { code: 100, stdout: 'Reading package lists...', stderr: 'E: Unable to locate package nosuch' } : { code: 0, stdout: '', stderr: '' },
    );
    const error = await pkgAptItem.fix(entry('nosuch', {}).change, entry('nosuch', {}).item, context).catch((e: unknown) => e);
    expect(String(error)).toContain('apt-get install nosuch failed (exit 100):\nE: Unable to locate package nosuch');
  });

  it('rejects a version on a package that should be absent, and bad names', () => {
    expect(pkgAptItem.attributes.safeParse({ installed: false, version: '1.0' }).success).toBe(false);
    expect(pkgAptItem.validateName?.('nginx')).toBeUndefined();
    expect(pkgAptItem.validateName?.('Nginx')).toMatch(/package name/);
  });
});

describe('aptUpdate', () => {
  it('runs apt-get update with the lock timeout and throws when it fails', async () => {
    const ok = recorder();
    await aptUpdate(ok.context, { lockTimeoutSeconds: 60 });
    expect(ok.commands).toEqual(['DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=60 update']);
    const failing = recorder(() => ({ code: 100, stdout: '', stderr: 'E: Could not get lock /var/lib/apt/lists/lock' }));
    await expect(aptUpdate(failing.context)).rejects.toThrow(/apt-get update failed \(exit 100\):\nE: Could not get lock/);
  });
});
