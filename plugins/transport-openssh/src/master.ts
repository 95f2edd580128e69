import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnreachableError, type ConnectContext } from '@fettle/core';
import type { SshCommandLine } from './command-line.js';

/** Masters still running, killed if the process exits without closing them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGTERM');
});

/**
 * One ControlMaster connection: `ssh -M -N` as a child process whose control socket
 * sits in a private 0700 folder. It is ready when the socket appears (ssh creates it
 * after authentication); until then, its exit or the deadline is a failure, read from
 * its stderr. Commands then run as `ssh -S socket` clients: one TCP connection, one
 * session per command.
 */
export class Master {
  readonly socket: string;
  /** Lines ssh printed while connecting, for the run's warnings. */
  warnings: readonly string[] = [];
  readonly #dir: string;
  readonly #child: ChildProcess;
  readonly #line: SshCommandLine;
  #exited: Promise<void>;
  #lost: string | undefined;
  #closing = false;

  private constructor(line: SshCommandLine, dir: string, child: ChildProcess) {
    this.#line = line;
    this.#dir = dir;
    this.socket = path.join(dir, 'master');
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async open(line: SshCommandLine, timeoutMs: number, context: ConnectContext, where: string): Promise<Master> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fettle-ssh-'));
    const socket = path.join(dir, 'master');
    const args = [...line.options, '-o', 'BatchMode=yes', '-o', 'ControlMaster=yes', '-o', `ControlPath=${socket}`, '-o', 'ControlPersist=no', '-N', line.destination];
    const child = spawn(line.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(child);
    const master = new Master(line, dir, child);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    try {
      await master.#ready(timeoutMs, context, where, () => stderr);
    } catch (error) {
      await master.#kill();
      throw error;
    }
    child.once('exit', () => {
      live.delete(child);
      if (!master.#closing) master.#lost = stderr.trim().split('\n').at(-1) ?? 'the ssh master connection exited';
    });
    // What ssh said while connecting ("Permanently added … to the list of known hosts", say).
    master.warnings = stderr.replace(/\r/g, '').split('\n').map((line) => line.trim()).filter((line) => line !== '');
    stderr = '';
    return master;
  }

  async #ready(timeoutMs: number, context: ConnectContext, where: string, stderr: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    this.#child.once('exit', (code) => {
      exitCode = code;
    });
    for (;;) {
      if (await stat(this.socket).then(() => true, () => false)) return;
      if (exitCode !== undefined) throw classify(stderr(), where);
      if (context.signal?.aborted) throw new UnreachableError('other', `${where}: connection attempt interrupted`);
      if (Date.now() > deadline) throw new UnreachableError('timeout', `${where}: no SSH connection within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Why the connection is gone, or undefined while it is up. */
  get lost(): string | undefined {
    return this.#lost;
  }

  /** Arguments for a client that runs through this master and never connects on its own. */
  clientArgs(): string[] {
    // -F none and ProxyCommand=false: should the socket be gone, ssh must fail, not open a second connection.
    return ['-F', 'none', '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', `ControlPath=${this.socket}`, '-o', 'ProxyCommand=false', '-T', this.#line.destination];
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#exited;
    this.#closing = true;
    if (this.#child.exitCode === null) {
      const exit = spawn(this.#line.binary, ['-F', 'none', '-o', `ControlPath=${this.socket}`, '-O', 'exit', this.#line.destination], { stdio: 'ignore' });
      await new Promise((resolve) => exit.once('close', resolve).once('error', resolve));
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
      await this.#exited;
      clearTimeout(timer);
    }
    live.delete(this.#child);
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #kill(): Promise<void> {
    this.#closing = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      await this.#exited;
    }
    live.delete(this.#child);
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** ssh's stderr, turned into the reason the engine reports. */
export function classify(stderr: string, where: string): UnreachableError {
  const text = stderr.replace(/\r/g, '').trim();
  const last = text.split('\n').filter((line) => line.trim() !== '' && !/^@+$/.test(line.trim())).at(-1) ?? 'ssh exited during connect';
  const say = (reason: UnreachableError['reason'], message: string): UnreachableError => new UnreachableError(reason, `${where}: ${message}`);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text)) {
    const offered = /The fingerprint for the (\S+) key sent by the remote host is\n(\S+?)\.?\n/.exec(text);
    const offending = /Offending (\S+) key in (\S+)/.exec(text);
    return say(
      'host-key',
      `the host key does NOT match known_hosts${offered ? `: offered ${offered[1] ?? ''} ${offered[2] ?? ''}` : ''}${offending ? `, expected the ${offending[1] ?? ''} key at ${offending[2] ?? ''}` : ''}. Someone may be intercepting the connection; refusing to connect (ssh: ${last})`,
    );
  }
  if (/revoked/i.test(text) && /host key/i.test(text)) return say('host-key', `the host key is marked @revoked; refusing to connect (ssh: ${last})`);
  if (/Host key verification failed|host key is known|No .* host key is known/i.test(text)) {
    return say('host-key', `the host key is unknown and strict checking is on; check its fingerprint, then add it to known_hosts or set hostKeyPolicy: 'accept-new' (ssh: ${last})`);
  }
  if (/Permission denied/.test(text)) return say('auth', `authentication failed (ssh: ${last})`);
  if (/Connection refused/.test(text)) return say('refused', `connection refused (ssh: ${last})`);
  if (/Could not resolve hostname|Name or service not known|Temporary failure in name resolution/.test(text)) return say('dns', `cannot resolve the host name (ssh: ${last})`);
  if (/timed out/i.test(text)) return say('timeout', `timed out (ssh: ${last})`);
  return say('other', `ssh could not connect: ${last}`);
}
