import { spawn } from 'node:child_process';
import { FettleError, UnreachableError, type ExecResult } from '@fettle/core';
import { sendPayload, type Payload, type StdinGate } from '@fettle/transport-shell';
import type { Master } from './master.js';

export interface RunOptions {
  readonly stdin?: Payload | undefined;
  readonly timeoutMs?: number | undefined;
  readonly gate?: StdinGate | undefined;
}

/** Runs commands through a master, at most `limit` at once (the server's MaxSessions). */
export class Sessions {
  readonly #master: Master;
  readonly #binary: string;
  readonly #hostName: string;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #limit: number;

  constructor(master: Master, binary: string, hostName: string, limit: number) {
    this.#master = master;
    this.#binary = binary;
    this.#hostName = hostName;
    this.#limit = limit;
  }

  async run(command: string, options: RunOptions = {}): Promise<ExecResult> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await this.#spawn(command, options);
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #spawn(command: string, options: RunOptions): Promise<ExecResult> {
    const lost = this.#master.lost;
    if (lost !== undefined) return Promise.reject(this.#lostError(lost));
    return new Promise<ExecResult>((resolve, reject) => {
      // The command travels on stdin, ahead of its own input, never in ssh's argv: any
      // local user can read a process's arguments, and a command may carry a secret.
      const text = Buffer.from(command);
      const child = spawn(this.#binary, [...this.#master.clientArgs(), readCommandFirst(text.length)], { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.write(text);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let failed: Error | undefined;
      const fail = (error: Error): void => {
        failed ??= error;
        child.kill('SIGTERM');
      };
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => fail(new FettleError('E_TRANSPORT', `command timed out after ${options.timeoutMs} ms`, { where: `host ${this.#hostName}` })), options.timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => (options.gate ? options.gate.onStderr(chunk) : stderr.push(chunk)));
      child.stdin.on('error', () => undefined); // a command that exits without reading its stdin is not an error
      child.once('error', (error) => fail(error));
      child.once('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (failed) return reject(failed);
        const errText = options.gate ? options.gate.stderr() : Buffer.concat(stderr);
        // 255 is ssh's own failure; with the master gone, it means the connection is lost.
        if (code === 255 && this.#master.lost !== undefined) return reject(this.#lostError(this.#master.lost));
        resolve({ code, signal: signal ?? undefined, stdout: Buffer.concat(stdout), stderr: errText });
      });
      if (options.gate) options.gate.start(child.stdin, options.stdin, fail);
      else sendPayload(child.stdin, options.stdin);
    });
  }

  #lostError(why: string): UnreachableError {
    return new UnreachableError('lost', `${this.#hostName}: connection lost (${why})`);
  }
}

/**
 * The remote side of a command sent on stdin: read exactly its bytes (dd bs=1 never
 * reads past them, so the rest of stdin stays the command's own), then run it. In
 * `sh -c`, whatever the login shell; `echo .` keeps trailing newlines through `$( )`.
 */
export function readCommandFirst(length: number): string {
  return `sh -c 'c=$(dd bs=1 count=${length} 2>/dev/null; echo .); eval "\${c%.}"'`;
}
