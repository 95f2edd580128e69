import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isUnreachableError, type Host, type UnreachableError } from '@fettle/core';
import { silentHost, sshdForTests, sshFingerprint } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKnownHosts } from './known-hosts.js';
import { connectHost, kitHost, rejection, testContext } from './test-support.js';

const run = promisify(execFile);

async function unreachable(promise: Promise<unknown>): Promise<UnreachableError> {
  const error = await rejection(promise);
  if (!isUnreachableError(error)) throw new Error(`expected an UnreachableError, got ${error.name}: ${error.message}`);
  return error;
}

/** A fresh ed25519 key pair: `{ keyPath, publicKey }`. */
async function newKey(dir: string, name: string, passphrase = ''): Promise<{ keyPath: string; publicKey: string }> {
  const keyPath = path.join(dir, name);
  await run('ssh-keygen', ['-t', 'ed25519', '-N', passphrase, '-q', '-C', '', '-f', keyPath]);
  return { keyPath, publicKey: (await readFile(`${keyPath}.pub`, 'utf8')).trim() };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('ssh transport: host keys and connect failures', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  let dir: string;
  beforeAll(async () => {
    await sshd.start();
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-test-'));
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a changed host key before any command, naming both fingerprints and the line', async () => {
    const kit = sshd.get();
    const other = await newKey(dir, 'other-host-key');
    const knownHosts = path.join(dir, 'known_hosts.wrong');
    await writeFile(knownHosts, `# a comment\n[127.0.0.1]:${kit.port} ${other.publicKey}\n`);
    const mark = await kit.mark();
    const error = await unreachable(connectHost(kitHost(kit, { knownHosts })));
    expect(error.reason).toBe('host-key');
    expect(error.message).toContain(kit.hostKeyFingerprint);
    expect(error.message).toContain(sshFingerprint(other.publicKey));
    expect(error.message).toContain(`${knownHosts}:2`);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 0, execs: 0, sftp: 0 });
  });

  it('refuses an unknown host under strict, showing the offered fingerprint', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'known_hosts.empty');
    await writeFile(knownHosts, '');
    const error = await unreachable(connectHost(kitHost(kit, { knownHosts })));
    expect(error.reason).toBe('host-key');
    expect(error.message).toContain(kit.hostKeyFingerprint);
    expect(error.message).toMatch(/unknown.*accept-new/);
  });

  it('accepts hashed known_hosts entries (ssh-keygen -H)', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'known_hosts.hashed');
    await writeFile(knownHosts, await readFile(kit.knownHostsPath));
    await run('ssh-keygen', ['-H', '-f', knownHosts]);
    expect(await readFile(knownHosts, 'utf8')).toMatch(/^\|1\|/);
    const transport = await connectHost(kitHost(kit, { knownHosts }));
    expect((await transport.exec('echo ok')).stdout.toString()).toBe('ok\n');
    await transport.close();
  });

  it('refuses a key marked @revoked even though it is also listed', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'known_hosts.revoked');
    await writeFile(knownHosts, `[127.0.0.1]:${kit.port} ${kit.hostPublicKey}\n@revoked * ${kit.hostPublicKey}\n`);
    const error = await unreachable(connectHost(kitHost(kit, { knownHosts })));
    expect(error.reason).toBe('host-key');
    expect(error.message).toMatch(/@revoked/);
  });

  it('accept-new records [host]:port in a new file (folder created), then strict accepts it', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'fresh', 'sub', 'known_hosts');
    const ctx = testContext();
    await (await connectHost(kitHost(kit, { knownHosts, hostKeyPolicy: 'accept-new' }), ctx.context)).close();
    expect(await readFile(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${kit.port} ${kit.hostPublicKey}\n`);
    expect(ctx.warnings.join('\n')).toContain('recorded new host key');
    await (await connectHost(kitHost(kit, { knownHosts }))).close();
  });

  it('accept-new still refuses a changed key', async () => {
    const kit = sshd.get();
    const other = await newKey(dir, 'other-host-key-2');
    const knownHosts = path.join(dir, 'known_hosts.changed');
    await writeFile(knownHosts, `[127.0.0.1]:${kit.port} ${other.publicKey}\n`);
    const error = await unreachable(connectHost(kitHost(kit, { knownHosts, hostKeyPolicy: 'accept-new' })));
    expect(error.reason).toBe('host-key');
    expect(await readFile(knownHosts, 'utf8')).toBe(`[127.0.0.1]:${kit.port} ${other.publicKey}\n`);
  });

  it('accept-new with 8 hosts connecting at once leaves a well-formed known_hosts with 8 entries', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(dir, 'known_hosts.parallel');
    const config = path.join(dir, 'ssh_config.parallel');
    const names = Array.from({ length: 8 }, (_, i) => `par${i + 1}`);
    // Eight aliases of one sshd, each recorded under its own HostKeyAlias.
    await writeFile(
      config,
      names.map((name) => `Host ${name}\n  HostName 127.0.0.1\n  Port ${kit.port}\n  User ${kit.user}\n  IdentityFile ${kit.clientKeyPath}\n  HostKeyAlias ${name}.fettle.test\n`).join('\n'),
    );
    const hosts: Host[] = names.map((name) => ({
      name,
      transport: 'ssh',
      transportOptions: { sshConfig: config, knownHosts, hostKeyPolicy: 'accept-new', agent: false },
      groups: [],
      roles: [],
      vars: {},
      readonly: false,
    }));
    const transports = await Promise.all(hosts.map((host) => connectHost(host)));
    await Promise.all(transports.map((transport) => transport.close()));
    const text = await readFile(knownHosts, 'utf8');
    const parsed = parseKnownHosts(text, knownHosts);
    expect(parsed.invalid).toEqual([]);
    expect(parsed.entries.map((entry) => entry.hosts).sort()).toEqual(names.map((name) => `${name}.fettle.test`).sort());
    expect(text.split('\n').filter(Boolean)).toHaveLength(8);
    expect(existsSync(`${knownHosts}.lock`)).toBe(false);
    // And every one of them is now known under strict.
    const strict = hosts.map((host) => ({ ...host, transportOptions: { ...host.transportOptions, hostKeyPolicy: 'strict' } }));
    await Promise.all((await Promise.all(strict.map((host) => connectHost(host)))).map((transport) => transport.close()));
  });

  it("warns on every connection with hostKeyPolicy 'off'", async () => {
    const kit = sshd.get();
    const ctx = testContext();
    const transport = await connectHost(kitHost(kit, { knownHosts: path.join(dir, 'nothing'), hostKeyPolicy: 'off' }), ctx.context);
    await transport.close();
    expect(ctx.warnings.join('\n')).toMatch(/host key checking is OFF/);
  });

  it('times out on a silent host after connectTimeoutMs while a good connection completes', async () => {
    const kit = sshd.get();
    const silent = await silentHost();
    try {
      const started = Date.now();
      let goodDoneAt = 0;
      const good = (async () => {
        const transport = await connectHost(kitHost(kit));
        await transport.exec('true');
        await transport.close();
        goodDoneAt = Date.now() - started;
      })();
      const error = await unreachable(connectHost(kitHost(kit, { connectTimeoutMs: 1500 }, { name: 'silent', port: silent.port })));
      const elapsed = Date.now() - started;
      await good;
      expect(error.reason).toBe('timeout');
      expect(error.message).toMatch(/silent.*1500 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(1450);
      expect(elapsed).toBeLessThan(4000);
      expect(goodDoneAt).toBeLessThan(elapsed);
    } finally {
      await silent.close();
    }
  });

  it("says 'refused' for a closed port and 'dns' for a name that does not resolve", async () => {
    const kit = sshd.get();
    const refused = await unreachable(connectHost(kitHost(kit, {}, { port: await freePort() })));
    expect(refused.reason).toBe('refused');
    const dns = await unreachable(connectHost(kitHost(kit, {}, { address: 'no-such-host.invalid' })));
    expect(dns.reason).toBe('dns');
  });

  it("says 'auth' when no offered key is accepted, and runs nothing", async () => {
    const kit = sshd.get();
    const stranger = await newKey(dir, 'stranger');
    const mark = await kit.mark();
    const error = await unreachable(connectHost(kitHost(kit, { identityFile: stranger.keyPath })));
    expect(error.reason).toBe('auth');
    expect(error.message).toContain(stranger.keyPath);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 0, execs: 0, failedAuth: 1 });
  });

  it('stops connecting when the run is aborted', async () => {
    const kit = sshd.get();
    const silent = await silentHost();
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const error = await unreachable(connectHost(kitHost(kit, {}, { port: silent.port }), testContext(undefined, controller.signal).context));
      expect(error.message).toMatch(/interrupted/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  it('rejects running and later commands with "connection lost" when sshd dies', async () => {
    const own = sshdForTests({ hosts: ['lost'] });
    await own.start();
    const transport = await connectHost(kitHost(own.get()));
    const running = rejection(transport.exec('sleep 30'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await own.stop();
    const error = await running;
    expect(error.message).toMatch(/connection was lost/);
    expect((await rejection(transport.exec('true'))).message).toMatch(/connection was lost/);
    await transport.close();
  });
});
