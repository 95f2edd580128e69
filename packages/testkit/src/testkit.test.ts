import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run, runOk } from './exec.js';
import {
  authorizeKey,
  createTestUser,
  grantNopasswdSudo,
  parseSshdLog,
  silentHost,
  sshdForTests,
  startSshd,
  type SshdKit,
} from './index.js';

const isRoot = process.getuid?.() === 0;

/** Runs the system ssh client against the kit. */
function ssh(kit: SshdKit, user: string, command: string, extra: string[] = []) {
  return run('ssh', [...kit.sshArgs(), '-o', 'LogLevel=ERROR', ...extra, `${user}@127.0.0.1`, command]);
}

/** Spawns a program with stdin text (execFile has no `input`). */
function runWithInput(file: string, args: string[], input: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout });
    });
    child.stdin.end(input);
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      resolve(false);
    });
  });
}

/** Running = has a /proc entry that is not a zombie (pid 1 here reaps orphans lazily). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('startSshd', () => {
  const sshd = sshdForTests({ hosts: ['a', 'b'] });
  beforeAll(sshd.start);
  afterAll(sshd.stop);

  it('runs a command with StrictHostKeyChecking=yes against the generated known_hosts', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const res = await ssh(kit, kit.user, 'echo hi');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('hi\n');
    expect(await kit.countsSince(mark)).toEqual({ connections: 1, execs: 1, sftp: 0, shells: 0, failedAuth: 0 });
    expect(await readFile(kit.knownHostsPath, 'utf8')).toBe(`[127.0.0.1]:${kit.port} ${kit.hostPublicKey}\n`);
  });

  it('rejects a wrong known_hosts entry (strict checking is real)', async () => {
    const kit = sshd.get();
    const other = join(kit.dir, 'other_host');
    await runOk('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-f', other]);
    const [type, blob] = (await readFile(`${other}.pub`, 'utf8')).split(' ');
    const badKnownHosts = join(kit.dir, 'known_hosts.bad');
    await writeFile(badKnownHosts, `[127.0.0.1]:${kit.port} ${type ?? ''} ${blob ?? ''}\n`);
    // ssh keeps the first value of an option, so swap the file inside sshArgs() rather than appending -o.
    const args = kit.sshArgs().map((a) => (a === `UserKnownHostsFile=${kit.knownHostsPath}` ? `UserKnownHostsFile=${badKnownHosts}` : a));
    const res = await run('ssh', [...args, `${kit.user}@127.0.0.1`, 'echo hi']);
    expect(res.code).toBe(255);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('counts an sftp session once', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const batch = join(kit.dir, 'batch.sftp');
    await writeFile(batch, `put ${kit.configPath} ${kit.hosts['a']?.root ?? ''}/copied\nls /\n`);
    const args = kit.sshArgs().map((a) => (a === '-p' ? '-P' : a)); // sftp spells the port flag -P
    const res = await run('sftp', ['-b', batch, ...args, `${kit.user}@127.0.0.1`]);
    expect(res.code, res.stderr).toBe(0);
    expect(existsSync(join(kit.hosts['a']?.root ?? '', 'copied'))).toBe(true);
    expect(await kit.countsSince(mark)).toEqual({ connections: 1, execs: 0, sftp: 1, shells: 0, failedAuth: 0 });
  });

  it('counts a shell session', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const res = await runWithInput('ssh', [...kit.sshArgs(), '-T', `${kit.user}@127.0.0.1`], 'echo from-shell\n');
    expect(res.stdout).toBe('from-shell\n');
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, shells: 1, execs: 0 });
  });

  it('counts a rejected key as one failed auth', async () => {
    const kit = sshd.get();
    const stranger = join(kit.dir, 'stranger');
    await runOk('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-f', stranger]);
    const mark = await kit.mark();
    const res = await run('ssh', [
      ...kit.sshArgs().map((a) => (a === kit.clientKeyPath ? stranger : a)),
      '-o',
      'LogLevel=ERROR',
      `${kit.user}@127.0.0.1`,
      'true',
    ]);
    expect(res.code).toBe(255);
    expect(await kit.countsSince(mark)).toEqual({ connections: 0, execs: 0, sftp: 0, shells: 0, failedAuth: 1 });
  });

  it('counts() covers the whole log', async () => {
    const counts = await sshd.get().counts();
    expect(counts.connections).toBeGreaterThanOrEqual(3);
    expect(counts.execs).toBeGreaterThanOrEqual(1);
  });

  it('hostKeyFingerprint equals ssh-keygen -lf', async () => {
    const kit = sshd.get();
    const res = await runOk('ssh-keygen', ['-lf', `${kit.hostKeyPath}.pub`]);
    expect(res.stdout.split(' ')[1]).toBe(kit.hostKeyFingerprint);
    expect(kit.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('creates one 0755 target root per host and exposes the key material', () => {
    const kit = sshd.get();
    expect(Object.keys(kit.hosts)).toEqual(['a', 'b']);
    for (const h of Object.values(kit.hosts)) {
      expect(h.root).toBe(join(kit.dir, 'targets', h.name));
      expect(statSync(h.root).mode & 0o777).toBe(0o755);
    }
    expect(kit.clientKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(kit.hostPublicKey).toMatch(/^ssh-ed25519 AAAA\S+$/);
    expect(kit.address).toBe('127.0.0.1');
  });

  it('sshConfig() is a usable ssh_config block', async () => {
    const kit = sshd.get();
    const file = join(kit.dir, 'ssh_config');
    await writeFile(file, kit.sshConfig('kit-host'));
    const res = await run('ssh', ['-F', file, 'kit-host', 'echo via-config']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe('via-config\n');
  });
});

describe('extraConfig', () => {
  it('plain lines override the defaults and Match blocks go last', async () => {
    await using kit = await startSshd({
      maxSessions: 7,
      extraConfig: 'MaxSessions 3\nMatch User nobody\n  PermitTTY no\n',
    });
    const res = await runOk('/usr/sbin/sshd', ['-T', '-f', kit.configPath]);
    expect(res.stdout).toMatch(/^maxsessions 3$/m);
    expect((await ssh(kit, kit.user, 'echo ok')).stdout).toBe('ok\n');
  });
});

describe('stop()', () => {
  it('kills the daemon, closes the port, removes the dir, and is idempotent', async () => {
    const kit = await startSshd();
    expect(await portOpen(kit.port)).toBe(true);
    await kit.stop();
    expect(kit.stopped).toBe(true);
    expect(running(kit.pid)).toBe(false);
    expect(await portOpen(kit.port)).toBe(false);
    expect(existsSync(kit.dir)).toBe(false);
    await kit.stop();
  });
});

describe('parallel kits', () => {
  it('run side by side on different ports', async () => {
    const [k1, k2] = await Promise.all([startSshd(), startSshd()]);
    try {
      expect(k1.port).not.toBe(k2.port);
      expect(k1.hostKeyFingerprint).not.toBe(k2.hostKeyFingerprint);
      const [r1, r2] = await Promise.all([ssh(k1, k1.user, 'echo one'), ssh(k2, k2.user, 'echo two')]);
      expect([r1.stdout, r2.stdout]).toEqual(['one\n', 'two\n']);
      expect((await k1.counts()).execs).toBe(1);
      expect((await k2.counts()).execs).toBe(1);
    } finally {
      await Promise.all([k1.stop(), k2.stop()]);
    }
  });
});

describe.skipIf(!isRoot)('test users (root only)', () => {
  const sshd = sshdForTests();
  beforeAll(sshd.start);
  afterAll(sshd.stop);

  it('createTestUser + grantNopasswdSudo + authorizeKey allow ssh login and sudo -n', async () => {
    const kit = sshd.get();
    const user = await createTestUser('fettle-TK_');
    let revoke: (() => Promise<void>) | undefined;
    const sudoersFile = `/etc/sudoers.d/fettle-test-${user.name}`;
    try {
      expect(user.name).toMatch(/^fettletk[0-9a-f]{6}$/);
      expect(user.uid).toBeGreaterThan(0);
      revoke = await grantNopasswdSudo(user);
      expect(statSync(sudoersFile).mode & 0o777).toBe(0o440);
      await authorizeKey(user, kit.clientPublicKey);
      const ssh_dir = statSync(join(user.home, '.ssh'));
      expect([ssh_dir.mode & 0o777, ssh_dir.uid]).toEqual([0o700, user.uid]);

      const who = await ssh(kit, user.name, 'id -un; sudo -n id -u');
      expect(who.code, who.stderr).toBe(0);
      expect(who.stdout).toBe(`${user.name}\n0\n`);
    } finally {
      await revoke?.();
      await user.remove();
    }
    expect(existsSync(sudoersFile)).toBe(false);
    expect((await run('getent', ['passwd', user.name])).code).not.toBe(0);
    expect(existsSync(user.home)).toBe(false);
    await user.remove(); // idempotent
  });

  it('rejects an invalid sudoers user name before touching /etc/sudoers.d', async () => {
    await expect(grantNopasswdSudo('bad name')).rejects.toThrow(/unsupported user name/);
  });
});

describe('silentHost', () => {
  it('accepts connections and never sends a byte', async () => {
    const host = await silentHost();
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const s = connect({ host: '127.0.0.1', port: host.port });
      s.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      s.on('error', reject);
      s.once('connect', () => {
        setTimeout(() => {
          s.destroy();
          resolve(bytes);
        }, 300);
      });
    });
    expect(received).toBe(0);
    const res = await run('ssh', ['-o', 'ConnectTimeout=1', '-o', 'BatchMode=yes', '-p', String(host.port), '127.0.0.1', 'true']);
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/timed out/i);
    await host.close();
    await host.close();
    expect(await portOpen(host.port)).toBe(false);
  });
});

describe('parseSshdLog', () => {
  it('parses OpenSSH 9.2 VERBOSE lines', () => {
    const log = [
      'Connection from 127.0.0.1 port 1 on 127.0.0.1 port 2299 rdomain ""',
      'Accepted publickey for root from 127.0.0.1 port 1 ssh2: ED25519 SHA256:x',
      'Starting session: command for root from 127.0.0.1 port 1 id 0',
      'Starting session: command for root from 127.0.0.1 port 1 id 1',
      "Starting session: subsystem 'sftp' for root from 127.0.0.1 port 1 id 2",
      'Starting session: shell for root from 127.0.0.1 port 1 id 3',
      // wrong key then right key on one connection: not a failed auth
      'Failed publickey for root from 127.0.0.1 port 2 ssh2: ED25519 SHA256:y',
      'Accepted publickey for root from 127.0.0.1 port 2 ssh2: ED25519 SHA256:x',
      // one rejected connection logs two lines
      'Failed publickey for root from 127.0.0.1 port 3 ssh2: ED25519 SHA256:y',
      'Connection closed by authenticating user root 127.0.0.1 port 3 [preauth]',
      // a client that disconnects politely (e.g. ssh2) after failing
      'Disconnected from authenticating user root 127.0.0.1 port 4 [preauth]',
      'Invalid user nobody2 from 127.0.0.1 port 5',
      'Connection closed by invalid user nobody2 127.0.0.1 port 5 [preauth]',
    ].join('\n');
    expect(parseSshdLog(log)).toEqual({ connections: 2, execs: 2, sftp: 1, shells: 1, failedAuth: 3 });
  });
});
