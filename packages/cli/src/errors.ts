import { CommanderError } from 'commander';
import { formatError, isFettleError } from '@fettle/core/engine';
import { argumentErrorDocument } from './argument-error.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './output.js';

/** An error as scripts read it under --json: `{"error": {code, message, where, expected, hint}}`. */
export function errorDocument(error: unknown): { error: { code: string; message: string; where: string | null; expected: string | null; hint: string | null } } {
  if (error instanceof CommanderError) return argumentErrorDocument(error);
  if (isFettleError(error)) {
    return { error: { code: error.code, message: error.message, where: error.where ?? null, expected: error.expected ?? null, hint: error.hint ?? null } };
  }
  return { error: { code: 'E_INTERNAL', message: error instanceof Error ? error.message : String(error), where: null, expected: null, hint: 'run again with --debug for the stack trace' } };
}

/** Report an error that ended the run (scrubbed by the output like everything else) and return the exit code. */
export function reportFailure(error: unknown, out: Output, debug: boolean): number {
  if (out.json) out.document(errorDocument(error));
  else out.error(`fettle: ${formatError(error)}`);
  if (debug) for (const stack of stacks(error)) out.error(stack);
  if (isFettleError(error)) return error.isInputError ? EXIT.input : EXIT.failed;
  return EXIT.failed;
}

/** The stack of an error and of each of its causes, for --debug. */
function stacks(error: unknown): string[] {
  const found: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current.stack) found.push(depth === 0 ? current.stack : `caused by: ${current.stack}`);
  }
  return found;
}
