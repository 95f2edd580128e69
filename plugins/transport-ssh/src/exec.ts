import { FettleError, type ExecResult } from '@fettle/core';
import { sendPayload, type Payload, type StdinGate } from '@fettle/transport-shell';
import type { ClientChannel } from 'ssh2';
import { openWithRetry } from './channels.js';
import type { SshConnection } from './connection.js';

export interface RunOptions {
  readonly stdin?: Payload | undefined;
  readonly timeoutMs?: number | undefined;
  readonly gate?: StdinGate | undefined;
}

/** Run one command on its own channel (waiting for a free slot first). */
export async function runCommand(connection: SshConnection, command: string, options: RunOptions = {}): Promise<ExecResult> {
  const release = await connection.limiter.acquire();
  try {
    const failure = connection.failure();
    if (failure) throw failure;
    return await openWithRetry(() => execOnce(connection, command, options), () => connection.failure());
  } finally {
    release();
  }
}

/**
 * Open the channel and wire it up inside ssh2's callback, synchronously: a fast
 * command's output, exit status and close can arrive in the same packet as the
 * exec reply, and an `exit` event emitted before we listen is gone for good.
 */
function execOnce(connection: SshConnection, command: string, options: RunOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    try {
      connection.client.exec(command, (error, stream) => (error ? reject(error) : drive(connection, stream, options, resolve, reject)));
    } catch (error) {
      reject(connection.failure() ?? toError(error)); // ssh2 throws "Not connected" synchronously
    }
  });
}

function drive(
  connection: SshConnection,
  stream: ClientChannel,
  options: RunOptions,
  resolve: (result: ExecResult) => void,
  reject: (error: Error) => void,
): void {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let code: number | null = null;
  let signal: string | undefined;
  let exited = false;
  let finished = false;

  const finish = (error?: Error): void => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    unsubscribe();
    if (error) return reject(error);
    const err = options.gate ? options.gate.stderr() : Buffer.concat(stderr);
    resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: err });
  };
  const unsubscribe = connection.onFailure((error) => finish(error));
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          // Kill the process if the server honours signals (OpenSSH does), then drop the channel.
          try {
            stream.signal('KILL');
          } catch {
            /* channel already closing */
          }
          stream.close();
          finish(new FettleError('E_TRANSPORT', `command timed out after ${String(options.timeoutMs)} ms; its channel was closed`, { where: `host ${connection.name}` }));
        }, options.timeoutMs);

  stream.on('data', (chunk: Buffer) => stdout.push(chunk));
  stream.stderr.on('data', (chunk: Buffer) => (options.gate ? options.gate.onStderr(chunk) : stderr.push(chunk)));
  stream.on('exit', (exitCode: number | null, exitSignal?: string) => {
    exited = true;
    code = exitCode ?? null;
    signal = exitSignal ?? undefined;
  });
  stream.on('error', (error: Error) => finish(connection.failure() ?? error));
  stream.on('close', () => {
    const failure = connection.failure();
    if (!exited && failure) return finish(failure);
    if (!exited) return finish(new FettleError('E_TRANSPORT', 'the channel closed without an exit status', { where: `host ${connection.name}` }));
    finish();
  });
  stream.once('finish', () => {
    // Node destroys a duplex once both sides are done, and ssh2's Channel.destroy() calls
    // end() first: on a side we already ended, that only builds an ERR_STREAM_ALREADY_FINISHED
    // error (a stack trace per command) that nobody sees. Once ours is finished, closing is
    // all destroy() has left to do.
    stream.destroy = closeOnly;
  });
  if (options.gate) options.gate.start(stream, options.stdin, (error) => {
    stream.close();
    finish(error);
  });
  else sendPayload(stream, options.stdin);
}

function closeOnly(this: ClientChannel): ClientChannel {
  this.close();
  return this;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
