import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run, sleep } from './exec.js';
import { machineLeftovers } from './machine-cleanup.js';
import { machineTreePath } from './machine-tree.js';
import { startMachine } from './machine.js';
import { machinesForTests } from './machines-for-tests.js';

// Booted Debian hosts (systemd-nspawn, systemd as PID 1): slow to build once, quick to boot.
const machines = machinesForTests({ hosts: ['alpha', 'beta'] });
if (machines.skip) console.warn(`testkit: booted-host tests SKIPPED: ${machines.skip}`);
beforeAll(machines.start, 30 * 60_000);
afterAll(machines.stop, 60_000);

const ssh = (name: string, command: string) => {
  const m = machines.get(name);
  return run('ssh', [...m.sshArgs(), 'root@127.0.0.1', command]);
};

describe.skipIf(machines.skip)('booted hosts', () => {
  it('boot with systemd as PID 1 and answer over SSH with the kit keys, counted by their own sshd', async () => {
    for (const name of ['alpha', 'beta']) {
      const m = machines.get(name);
      expect(['running', 'degraded']).toContain(m.bootState);
      const mark = await m.mark();
      const res = await ssh(name, 'cat /proc/1/comm; hostname; systemctl is-system-running');
      expect(res.stderr).toBe('');
      expect(res.stdout.split('\n').slice(0, 2)).toEqual(['systemd', name]);
      expect(await m.countsSince(mark)).toEqual({ connections: 1, execs: 1, sftp: 0, shells: 0, failedAuth: 0 });
      // exec() enters the host without sshd: not counted.
      expect(await m.sh('systemctl is-active ssh.service')).toBe('active');
      expect(await m.countsSince(mark)).toMatchObject({ connections: 1, execs: 1 });
    }
    expect(machines.get('alpha').port).not.toBe(machines.get('beta').port);
  });

  it('give each host its own copy-on-write tree', async () => {
    const alpha = machines.get('alpha');
    expect((await ssh('alpha', 'echo only-alpha > /etc/fettle-mark && cat /etc/fettle-mark')).stdout).toBe('only-alpha\n');
    expect((await ssh('beta', 'test -e /etc/fettle-mark; echo $?')).stdout).toBe('1\n');
    expect(existsSync(`${alpha.root}/etc/fettle-mark`)).toBe(true);
    expect(existsSync(`${machineTreePath()}/etc/fettle-mark`)).toBe(false);
  });

  it('refuse a wrong host key (the known_hosts is real)', async () => {
    const alpha = machines.get('alpha');
    const beta = machines.get('beta');
    const args = alpha.sshArgs().map((a) => (a === `UserKnownHostsFile=${alpha.knownHostsPath}` ? `UserKnownHostsFile=${beta.knownHostsPath}` : a));
    const res = await run('ssh', [...args, '-o', `HostKeyAlias=[127.0.0.1]:${beta.port}`, 'root@127.0.0.1', 'true']);
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('power off, unmount and remove everything on stop, even after a failing test', async () => {
    const gamma = await startMachine('gamma');
    const dir = gamma.root.slice(0, -'/root'.length);
    const mine = () => machineLeftovers(process.pid).filter((l) => l.includes(dir));
    const failingTest = async () => {
      try {
        expect(mine().some((l) => l.startsWith('mount '))).toBe(true);
        expect(mine().some((l) => / sshd \(inside /.test(l))).toBe(true);
        expect(mine().some((l) => / systemd \(inside /.test(l))).toBe(true);
        throw new Error('a test that fails while its host runs');
      } finally {
        await gamma.stop();
      }
    };
    await expect(failingTest()).rejects.toThrow('a test that fails while its host runs');
    expect(mine()).toEqual([]);
    await gamma.stop(); // idempotent
  }, 180_000);

  it('move sshd to another port when the one picked was taken before it could bind', async () => {
    const blocker = createServer((sock) => sock.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      await using delta = await startMachine('delta', { sshPort: taken });
      expect(delta.port).not.toBe(taken);
      const res = await run('ssh', [...delta.sshArgs(), 'root@127.0.0.1', 'hostname']);
      expect(res.stdout).toBe('delta\n');
      expect(await delta.counts()).toMatchObject({ connections: 1, execs: 1 });
    } finally {
      blocker.close();
    }
  }, 180_000);

  it('take their hosts down when the test process is SIGKILLed (watchdog)', async () => {
    const script = fileURLToPath(new URL('../test-fixtures/machine-orphan.mjs', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const booted = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('booted')) resolve(chunk.toString());
      });
      child.once('exit', (code) => reject(new Error(`the orphaning child exited early (${String(code)})`)));
    });
    expect(booted).toContain('booted');
    const pid = child.pid ?? 0;
    expect(machineLeftovers(pid).some((l) => l.startsWith('mount '))).toBe(true);
    child.kill('SIGKILL');
    const deadline = Date.now() + 60_000;
    while (machineLeftovers(pid).length > 0 && Date.now() < deadline) await sleep(250);
    expect(machineLeftovers(pid)).toEqual([]);
  }, 180_000);
});

describe('booted hosts where they cannot run', () => {
  it('say why instead of failing (not root)', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const probe = `import(${JSON.stringify(dist)}).then((m) => console.log(m.machineSupport()))`;
    const res = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe]);
    expect(res.stdout.trim()).toBe('booted hosts need root (systemd-nspawn and overlay mounts); run the tests as root');
  });
});
