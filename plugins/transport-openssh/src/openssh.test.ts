import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isUnreachableError } from '@fettle/core';
import { authorizeKey, createTestUser, grantNopasswdSudo, silentHost, sshdForTests, type TestUser } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection, testContext } from './test-support.js';

const run = promisify(execFile);
const privateFolders = async (): Promise<string[]> => (await readdir(tmpdir())).filter((name) => name.startsWith('fettle-ssh-'));

describe('openssh transport against the test kit sshd', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  beforeAll(sshd.start);
  afterAll(sshd.stop);

  it('runs commands with stdin and exit codes over ONE connection, then closes it and its socket folder', async () => {
    const kit = sshd.get();
    const before = await privateFolders();
    const mark = await kit.mark();
    const transport = await connectHost(kitHost(kit));
    const results = await Promise.all([transport.exec('echo one'), transport.exec('cat; exit 3', { stdin: 'from stdin' }), transport.exec('echo err >&2')]);
    expect(results.map((result) => [result.code, result.stdout.toString(), result.stderr.toString()])).toEqual([
      [0, 'one\n', ''],
      [3, 'from stdin', ''],
      [0, '', 'err\n'],
    ]);
    expect((await privateFolders()).length).toBe(before.length + 1);
    await transport.close();
    expect(await privateFolders()).toEqual(before);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 3, sftp: 0, failedAuth: 0 });
  });

  it("never puts a command in a local process's arguments (a command may carry a secret); stdin after it stays the command's", async () => {
    const kit = sshd.get();
    const transport = await connectHost(kitHost(kit));
    try {
      const marker = `secret-${Date.now()}-marker`;
      const running = transport.exec(`sleep 1; printf '%s\\n' '${marker}'; cat`, { stdin: 'payload\nlines\n' });
      await new Promise((resolve) => setTimeout(resolve, 400));
      const { stdout: processes } = await run('ps', ['-eo', 'args']);
      expect(processes).toContain('dd bs=1 count='); // the command is in flight
      expect(processes).not.toContain(marker);
      const result = await running;
      expect([result.code, result.stdout.toString()]).toEqual([0, `${marker}\npayload\nlines\n`]);
      expect((await transport.exec('printf "a\\n\\n"; exit 7')).code).toBe(7);
    } finally {
      await transport.close();
    }
  });

  it('writes files made in one tick with ONE command, atomically, with modes; reads and stats them', async () => {
    const kit = sshd.get();
    const root = kit.hosts['node1']?.root ?? '';
    const dir = path.join(root, 'batch');
    await mkdir(dir);
    const transport = await connectHost(kitHost(kit, { root }));
    try {
      const mark = await kit.mark();
      const results = await Promise.allSettled([
        ...Array.from({ length: 50 }, (_, i) => transport.writeFile(path.join(dir, `f${i}`), `file ${i}\n`, { mode: '0640' })),
        transport.writeFile(path.join(dir, 'missing-dir', 'x'), 'x'),
      ]);
      // One tar stream; the missing folder stops it before extracting, and the rest go again (the failure path only).
      expect(await kit.countsSince(mark)).toMatchObject({ connections: 0, execs: 2, sftp: 0 });
      expect(results.slice(0, 50).every((result) => result.status === 'fulfilled')).toBe(true);
      const bad = results[50];
      expect(bad?.status === 'rejected' && String(bad.reason)).toMatch(/cannot write .*missing-dir\/x: missing parent directory/);
      expect((await stat(path.join(dir, 'f7'))).mode & 0o7777).toBe(0o640);
      expect((await readdir(dir)).length).toBe(50); // no temp file left behind
      expect((await transport.readFile(path.join(dir, 'f49')))?.toString()).toBe('file 49\n');
      expect(await transport.stat(path.join(dir, 'f1'))).toEqual({ type: 'file', size: 7, mode: '0640' });
      expect(await transport.stat(path.join(dir, 'nope'))).toBeNull();
      expect(await transport.readFile(path.join(dir, 'nope'))).toBeNull();
    } finally {
      await transport.close();
    }
  });

  it('refuses a wrong host key before any command, naming the mismatch', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(kit.dir, 'known_hosts.wrong');
    // Another kit's key under this port: what a man in the middle would look like.
    const other = await readFile(kit.knownHostsPath, 'utf8');
    await writeFile(knownHosts, other.replace(/ssh-ed25519 \S+/, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJU8gHfyrEM4lVwAc9Wn81Mjigcf0py3zcq4TLchTRum'));
    const mark = await kit.mark();
    const error = await rejection(connectHost(kitHost(kit, { knownHosts })));
    expect(isUnreachableError(error) && error.reason).toBe('host-key');
    expect(error.message).toMatch(/does NOT match known_hosts/);
    expect(await kit.countsSince(mark)).toMatchObject({ execs: 0, sftp: 0 });
  });

  it('refuses an unknown host under strict, and records it under accept-new', async () => {
    const kit = sshd.get();
    const knownHosts = path.join(kit.dir, 'known_hosts.new');
    const error = await rejection(connectHost(kitHost(kit, { knownHosts, hostKeyPolicy: 'strict' })));
    expect(isUnreachableError(error) && error.reason).toBe('host-key');
    const { context, warnings } = testContext();
    const transport = await connectHost(kitHost(kit, { knownHosts, hostKeyPolicy: 'accept-new' }), context);
    await transport.close();
    expect(await readFile(knownHosts, 'utf8')).toContain(kit.hostPublicKey.split(' ')[1]);
    expect(warnings.join('\n')).toMatch(/ssh: Warning: Permanently added .* to the list of known hosts/);
    const off = testContext();
    await (await connectHost(kitHost(kit, { knownHosts, hostKeyPolicy: 'off' }), off.context)).close();
    expect(off.warnings.join('\n')).toMatch(/host key checking is OFF \(hostKeyPolicy 'off'\)/);
  });

  it("reports a host that never answers as unreachable after the connect timeout, and a closed port as 'refused'", async () => {
    const kit = sshd.get();
    const silent = await silentHost();
    try {
      const started = Date.now();
      const error = await rejection(connectHost(kitHost(kit, { connectTimeoutMs: 1500 }, { port: silent.port })));
      expect(Date.now() - started).toBeLessThan(6000);
      expect(isUnreachableError(error) && error.reason).toBe('timeout');
    } finally {
      await silent.close();
    }
    const refused = await rejection(connectHost(kitHost(kit, {}, { port: silent.port })));
    expect(isUnreachableError(refused) && refused.reason).toBe('refused');
  });

  it('rejects later commands with "connection lost" when the master connection dies', async () => {
    const kit = sshd.get();
    const transport = await connectHost(kitHost(kit));
    try {
      await transport.exec('true');
      // Kill this connection's sshd session process (the per-connection child of the kit's daemon).
      await transport.exec('kill -9 $PPID').catch(() => undefined);
      const error = await rejection(transport.exec('echo never'));
      expect(isUnreachableError(error) && error.reason).toBe('lost');
    } finally {
      await transport.close();
    }
  });
});

/** testkit has no helper for a password-protected sudo user: set a password and a rule that requires it. */
async function grantPasswordSudo(user: TestUser, password: string): Promise<() => Promise<void>> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${String(code)}`))));
    child.stdin.end(`${user.name}:${password}\n`);
  });
  const file = `/etc/sudoers.d/fettle-test-pw-${user.name}`;
  const temp = `/etc/sudoers.d/.fettle-test-pw-${user.name}.tmp`; // names with '.' are ignored by sudo
  await writeFile(temp, `${user.name} ALL=(ALL) ALL\n`, { mode: 0o440 });
  await run('visudo', ['-cf', temp]);
  await rename(temp, file);
  return () => rm(file, { force: true });
}

describe('openssh transport: become (sudo)', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  const cleanups: (() => Promise<void>)[] = [];
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let user: TestUser;
  let withPassword: TestUser;

  beforeAll(async () => {
    await sshd.start();
    user = await createTestUser('fettleossh');
    cleanups.push(() => user.remove());
    cleanups.push(await grantNopasswdSudo(user));
    await authorizeKey(user, sshd.get().clientPublicKey);
    withPassword = await createTestUser('fettleopw');
    cleanups.push(() => withPassword.remove());
    cleanups.push(await grantPasswordSudo(withPassword, password));
    await authorizeKey(withPassword, sshd.get().clientPublicKey);
  });
  afterAll(async () => {
    await sshd.stop();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('runs commands as root and writes a root-owned 0600 file in one command', async () => {
    const kit = sshd.get();
    const root = kit.hosts['node1']?.root ?? '';
    const transport = await connectHost(kitHost(kit, { become: 'sudo', root }, { user: user.name }));
    try {
      expect((await transport.exec('id -un')).stdout.toString()).toBe('root\n');
      const file = path.join(root, 'root-only.conf');
      const mark = await kit.mark();
      await transport.writeFile(file, 'token=1\n', { mode: '0600', owner: 'root', group: 'root' });
      expect(await kit.countsSince(mark)).toMatchObject({ execs: 1 });
      const info = await stat(file);
      expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([0, 0, 0o600]);
    } finally {
      await transport.close();
    }
  });

  it('with a sudo password from the environment: sent only to sudo, stdin intact; a wrong one fails once and is never shown', async () => {
    const kit = sshd.get();
    process.env['FETTLE_TEST_OSSH_PW'] = password;
    process.env['FETTLE_TEST_OSSH_BAD'] = `${password}-wrong`;
    try {
      const good = await connectHost(kitHost(kit, { become: 'sudo', sudoPassword: { env: 'FETTLE_TEST_OSSH_PW' } }, { user: withPassword.name }));
      try {
        const result = await good.exec('id -un; cat', { stdin: 'payload\n' });
        expect([result.code, result.stdout.toString()]).toEqual([0, 'root\npayload\n']);
        expect(result.stderr.toString()).not.toContain(password);
      } finally {
        await good.close();
      }
      const bad = await connectHost(kitHost(kit, { become: 'sudo', sudoPassword: { env: 'FETTLE_TEST_OSSH_BAD' } }, { user: withPassword.name }));
      try {
        const first = await rejection(bad.exec('id -un'));
        expect(first.message).toMatch(/sudo rejected the password/);
        const second = await rejection(bad.exec('id -un'));
        expect(second.message).toMatch(/rejected the password earlier/);
        expect(`${first.message}${second.message}`).not.toContain(password);
      } finally {
        await bad.close();
      }
    } finally {
      delete process.env['FETTLE_TEST_OSSH_PW'];
      delete process.env['FETTLE_TEST_OSSH_BAD'];
    }
  });

  it('without become, the login user cannot write there, and the error says why', async () => {
    const kit = sshd.get();
    const root = kit.hosts['node1']?.root ?? '';
    const transport = await connectHost(kitHost(kit, { root }, { user: user.name }));
    try {
      expect((await transport.exec('id -un')).stdout.toString()).toBe(`${user.name}\n`);
      const error = await rejection(transport.writeFile(path.join(root, 'denied.conf'), 'x'));
      expect(error.message).toMatch(/cannot write .*denied\.conf: permission denied/);
    } finally {
      await transport.close();
    }
  });
});
