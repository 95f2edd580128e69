import type { ExecOptions, ExecResult } from '../protocols/transport.js';
import { FettleError } from '../errors.js';
import { buildBatchScript, parseBatchOutput, unframedStderr, type BatchOp } from './batch.js';
import { notRunError } from './batch-gates.js';

/** How a batch reaches the host: one remote command, and a way to ask whether the connection is still there. */
export interface BatchChannel {
  readonly host: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Rejects (as unreachable) when the connection is gone. */
  probe(): Promise<void>;
}

/**
 * Send `ops` as one remote command and hand back one answer per op: its result, a
 * not-run error for an op a gate kept back, or why the batch gave none. A lone op is
 * sent as itself (no script to frame it). A batch killed by a signal is often the first
 * sign of a lost connection (the server killed the session): the channel is asked once,
 * so what got no answer says "unreachable" (the probe rejects), not "failed".
 */
export async function sendBatch(channel: BatchChannel, ops: readonly BatchOp[]): Promise<(ExecResult | Error)[]> {
  try {
    if (ops.length === 1) {
      const op = ops[0] as BatchOp;
      const result = await channel.exec(op.command, { stdin: op.stdin });
      if (result.code === null) await channel.probe();
      return [result];
    }
    const raw = await channel.exec('sh -s', { stdin: buildBatchScript(ops) });
    const results = parseBatchOutput(raw, ops.length);
    if (results.length < ops.length && raw.code === null) await channel.probe();
    return ops.map((_op, index) => {
      const result = results[index];
      if (result?.notRun) return notRunError(channel.host);
      if (result) return result;
      const detail = unframedStderr(raw).trim();
      return new FettleError('E_COMMAND', `remote batch ended early (exit ${String(raw.code)})${detail ? `: ${detail}` : ''}`, {
        where: `host ${channel.host}`,
      });
    });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return ops.map(() => failure);
  }
}
