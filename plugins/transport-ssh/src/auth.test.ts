import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isUnreachableError } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection, testContext } from './test-support.js';

const run = promisify(execFile);
const PASSPHRASE = 'correct horse battery staple';

describe('ssh transport: authentication', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  let dir: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    await sshd.start();
    const kit = sshd.get();
    dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-auth-'));
    const specs: [string, string[], string][] = [
      ['ecdsa', ['-t', 'ecdsa', '-b', '256'], ''],
      ['rsa', ['-t', 'rsa', '-b', '2048'], ''],
      ['encrypted', ['-t', 'ed25519'], PASSPHRASE],
      ['encrypted-rsa', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], PASSPHRASE],
    ];
    for (const [name, args, passphrase] of specs) {
      const file = path.join(dir, name);
      await run('ssh-keygen', [...args, '-N', passphrase, '-q', '-C', '', '-f', file]);
      // The kit's sshd reads its authorized_keys file for the kit user.
      await appendFile(path.join(kit.dir, 'authorized_keys'), await readFile(`${file}.pub`, 'utf8'));
      keys[name] = file;
    }
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['ecdsa', 'rsa'])('logs in with an %s key file', async (name) => {
    const transport = await connectHost(kitHost(sshd.get(), { identityFile: keys[name] }));
    expect((await transport.exec('echo in')).stdout.toString()).toBe('in\n');
    await transport.close();
  });

  it('asks the passphrase of an encrypted key once per run, even for 3 hosts at once, and never shows it', async () => {
    const ctx = testContext(() => PASSPHRASE);
    const hosts = ['a', 'b', 'c'].map((name) => kitHost(sshd.get(), { identityFile: [keys['encrypted'] ?? '', keys['encrypted-rsa'] ?? ''] }, { name }));
    const transports = await Promise.all(hosts.map((host) => connectHost(host, ctx.context)));
    await Promise.all(transports.map((transport) => transport.close()));
    expect(ctx.questions).toEqual([`Passphrase for ${keys['encrypted']}: `]);
    expect(ctx.warnings.join('\n')).not.toContain(PASSPHRASE);
  });

  it('skips an encrypted key it cannot decrypt (no TTY, or a wrong passphrase) and says so without the passphrase', async () => {
    const noTty = testContext();
    const error = await rejection(connectHost(kitHost(sshd.get(), { identityFile: keys['encrypted'] }), noTty.context));
    expect(isUnreachableError(error) && error.reason).toBe('auth');
    expect(noTty.warnings.join('\n')).toMatch(/encrypted and no passphrase can be asked/);

    const wrong = testContext(() => 'not the passphrase');
    const error2 = await rejection(connectHost(kitHost(sshd.get(), { identityFile: keys['encrypted'] }), wrong.context));
    expect(isUnreachableError(error2) && error2.reason).toBe('auth');
    expect(wrong.questions).toHaveLength(1);
    expect(wrong.warnings.join('\n')).toMatch(/did not decrypt/);
    for (const text of [...wrong.warnings, error2.message, String(error2.cause)]) expect(text).not.toContain('not the passphrase');
  });

  it('logs in through ssh-agent', async () => {
    const kit = sshd.get();
    const socket = path.join(dir, 'agent.sock');
    const started = await run('ssh-agent', ['-a', socket, '-s']);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1];
    try {
      await run('ssh-add', [kit.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const transport = await connectHost(kitHost(kit, { agent: socket, identityFile: [] }));
      expect((await transport.exec('echo agent')).stdout.toString()).toBe('agent\n');
      await transport.close();
    } finally {
      if (pid) process.kill(Number(pid));
    }
  });
});
