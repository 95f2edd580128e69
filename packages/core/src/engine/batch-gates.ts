import { FettleError } from '../errors.js';
import type { ExecResult } from '../protocols/transport.js';
import type { BatchOp } from './batch.js';

/** The error of an op its batch did not run: a guard (the lock's take) or an earlier stage's fix failed. */
export const E_NOT_RUN = 'E_NOT_RUN' as const;

export function isNotRun(error: unknown): boolean {
  return error instanceof FettleError && error.code === E_NOT_RUN;
}

/** Why an op its batch did not run has no result of its own (an item's reason, and the error's message). */
export const NOT_RUN_REASON = 'not run: an earlier command of its batch failed';

export function notRunError(hostName: string): FettleError {
  return new FettleError(E_NOT_RUN, `${NOT_RUN_REASON} (the host lock, or a dependency)`, { where: `host ${hostName}` });
}

/** What a batch's gates let through: a stage passed when its guard passed and no earlier stage had a failure. */
export interface BatchGates {
  passed(stage: number | undefined): boolean;
}

export function batchGates(ops: readonly BatchOp[], results: readonly (ExecResult | Error)[]): BatchGates {
  let guardFailed = false;
  let firstFailed = Infinity;
  ops.forEach((op, index) => {
    const result = results[index];
    const failed = result === undefined || result instanceof Error || result.code !== 0;
    if (op.guard === true && failed) guardFailed = true;
    else if (op.stage !== undefined && failed) firstFailed = Math.min(firstFailed, op.stage);
  });
  return { passed: (stage) => !guardFailed && (stage === undefined || stage <= firstFailed) };
}

export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
