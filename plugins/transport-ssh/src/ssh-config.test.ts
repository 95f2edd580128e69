import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host } from '@fettle/core';
import { describe, expect, it, vi } from 'vitest';
import { sshOptionsSchema, type SshOptionsInput } from './options.js';
import { parseJumpSpec, resolveSettings, type SshSettings } from './settings.js';
import { connectHost, rejection } from './test-support.js';

const FIXTURES = path.dirname(fileURLToPath(new URL('./fixtures/ssh_config', import.meta.url)));
const CONFIG = path.join(FIXTURES, 'ssh_config');
const HOME = os.homedir();

function host(name: string, extra: Partial<Host> = {}): Host {
  return { name, transport: 'ssh', transportOptions: {}, groups: [], roles: [], vars: {}, readonly: false, ...extra };
}

function resolve(name: string, options: SshOptionsInput = {}, extra: Partial<Host> = {}): Promise<SshSettings> {
  return resolveSettings(host(name, extra), sshOptionsSchema.parse({ sshConfig: CONFIG, agent: false, ...options }), '/site');
}

describe('ssh_config resolution (fixture)', () => {
  it('takes HostName, Port, User, IdentityFile and ConnectTimeout, first value winning', async () => {
    const { target, jumps } = await resolve('web1');
    expect(target).toMatchObject({ alias: 'web1', hostname: '10.0.0.1', port: 2222, user: 'deploy', connectTimeoutMs: 5000, hostKeyName: '[10.0.0.1]:2222' });
    // IdentityFile accumulates over matching blocks; %r and %h are expanded.
    expect(target.identityFiles).toEqual([
      { path: path.join(HOME, '.ssh/web_key'), explicit: true },
      { path: '/keys/deploy@10.0.0.1', explicit: true },
    ]);
    expect(jumps).toEqual([]);
  });

  it('falls through to Host * for what specific blocks leave out', async () => {
    const { target } = await resolve('web2');
    expect(target).toMatchObject({ hostname: 'web2', port: 9999, user: 'fallback', connectTimeoutMs: 30_000 });
  });

  it('lets the Host fields and the transport options win over ssh_config', async () => {
    const { target } = await resolve('web1', { identityFile: 'keys/site_key', knownHosts: 'known_hosts', connectTimeoutMs: 1234 }, { port: 22, user: 'root' });
    expect(target).toMatchObject({ hostname: '10.0.0.1', port: 22, user: 'root', connectTimeoutMs: 1234, hostKeyName: '10.0.0.1' });
    expect(target.identityFiles).toEqual([{ path: '/site/keys/site_key', explicit: true }]);
    expect(target.knownHostsFiles).toEqual(['/site/known_hosts']);
  });

  it('looks up host.address when it is set (as `ssh ADDRESS` would)', async () => {
    const { target } = await resolve('inventory-name', {}, { address: 'web1' });
    expect(target.hostname).toBe('10.0.0.1');
  });

  it('expands %h in HostName', async () => {
    expect((await resolve('short-db')).target.hostname).toBe('short-db.example.com');
  });

  it('applies wildcard blocks with negation: ProxyJump, HostKeyAlias, UserKnownHostsFile, HashKnownHosts', async () => {
    const { target, jumps } = await resolve('db.internal');
    expect(target).toMatchObject({ hostKeyName: 'internal-alias', hashKnownHosts: true });
    expect(target.knownHostsFiles).toEqual([path.join(HOME, '.ssh/known_hosts.internal'), '/etc/fleet/known_hosts', '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    expect(target.recordFile).toBe(path.join(HOME, '.ssh/known_hosts.internal'));
    // The jump host is resolved through ssh_config too; the spec's user and port win.
    expect(jumps).toHaveLength(1);
    expect(jumps[0]).toMatchObject({ alias: 'bastion.example.com', hostname: 'bastion.example.com', port: 2200, user: 'jumper' });
    expect(jumps[0]?.identityFiles).toEqual([{ path: '/keys/bastion', explicit: true }]);

    const bad = await resolve('bad.internal');
    expect(bad.jumps).toEqual([]);
    expect(bad.target.hostKeyName).toBe('bad.internal');
  });

  it('proxyJump false ignores the ssh_config ProxyJump; an option replaces it', async () => {
    expect((await resolve('db.internal', { proxyJump: false })).jumps).toEqual([]);
    const { jumps } = await resolve('db.internal', { proxyJump: 'a@one:1,two' });
    expect(jumps.map((jump) => [jump.user, jump.hostname, jump.port])).toEqual([
      ['a', 'one', 1],
      ['fallback', 'two', 22],
    ]);
  });

  it('refuses ProxyCommand rather than silently connecting directly, pointing at the openssh transport', async () => {
    expect((await resolve('piped')).problems[0]).toMatch(/ProxyCommand.*ProxyJump.*transport 'openssh'/);
    const error = await rejection(connectHost({ ...host('piped'), transport: 'ssh', transportOptions: { sshConfig: CONFIG } }));
    expect(error.message).toMatch(/ProxyCommand/);
  });

  it('honours IdentitiesOnly and IdentityAgent none for the agent', async () => {
    process.env['SSH_AUTH_SOCK'] = '/tmp/fettle-test-agent.sock';
    try {
      const withAgent = (name: string) => resolveSettings(host(name), sshOptionsSchema.parse({ sshConfig: CONFIG }), '/site');
      expect((await withAgent('web1')).target.agent).toBe('/tmp/fettle-test-agent.sock');
      expect((await withAgent('lonely')).target.agent).toBeUndefined();
      expect((await withAgent('noagent')).target.agent).toBeUndefined();
    } finally {
      delete process.env['SSH_AUTH_SOCK'];
    }
  });

  it("uses OpenSSH's defaults without a config: port 22, local user, both known_hosts files and their 2 variants, strict, 10 s", async () => {
    const settings = await resolveSettings(host('Plain.Example.ORG'), sshOptionsSchema.parse({ sshConfig: false }), '/site');
    expect(settings.target).toMatchObject({ hostname: 'plain.example.org', port: 22, user: os.userInfo().username, connectTimeoutMs: 10_000, hostKeyPolicy: 'strict' });
    expect(settings.target.knownHostsFiles).toEqual([path.join(HOME, '.ssh/known_hosts'), path.join(HOME, '.ssh/known_hosts2'), '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
  });

  it('reads the local user from the password database once per run, not once per host', async () => {
    const userInfo = vi.spyOn(os, 'userInfo');
    try {
      const all = await Promise.all(Array.from({ length: 20 }, (_, i) => resolveSettings(host(`h${i}.example.org`), sshOptionsSchema.parse({ sshConfig: false }), '/site')));
      expect(new Set(all.map((settings) => settings.target.user))).toEqual(new Set([os.userInfo().username]));
      // The call just above is the test's own; resolving 20 hosts made at most the first read.
      expect(userInfo.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      userInfo.mockRestore();
    }
  });

  it('refuses a named config file that does not exist, as ssh -F does, naming it', async () => {
    await expect(resolve('web1', { sshConfig: path.join(FIXTURES, 'no-such-config') })).rejects.toThrow(/no-such-config/);
  });
});

describe('parseJumpSpec', () => {
  it('reads user, host, port, IPv6 brackets and ssh:// URLs', () => {
    expect(parseJumpSpec('u@h:2222,other')).toEqual([
      { hostname: 'h', user: 'u', port: 2222 },
      { hostname: 'other', user: undefined, port: undefined },
    ]);
    expect(parseJumpSpec('[::1]:22')).toEqual([{ hostname: '::1', user: undefined, port: 22 }]);
    expect(parseJumpSpec('ssh://me@gw:7')).toEqual([{ hostname: 'gw', user: 'me', port: 7 }]);
    expect(() => parseJumpSpec('a:b:c')).toThrow(/ProxyJump entry/);
  });
});

describe('options schema', () => {
  it('fills defaults and rejects unknown keys', () => {
    expect(sshOptionsSchema.parse({})).toEqual({ becomeUser: 'root', sudoPassword: 'none', root: '/', maxChannels: 4 });
    expect(sshOptionsSchema.safeParse({ hostKeyCheck: 'no' }).success).toBe(false);
    expect(sshOptionsSchema.safeParse({ root: 'relative' }).success).toBe(false);
    expect(sshOptionsSchema.safeParse({ maxChannels: 1 }).success).toBe(false);
    expect(sshOptionsSchema.safeParse({ sudoPassword: 'hunter2' }).success).toBe(false);
  });
});
