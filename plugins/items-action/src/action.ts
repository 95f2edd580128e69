import { defineItemType, FettleError, rawShell, z, type CommandResult } from '@fettle/core';
import { commandStatus } from './facts.js';

/** How much of a failed command's stdout and stderr the error shows (the tail). */
const OUTPUT_LIMIT = 4000;

const attributes = z.strictObject({
  /** Shell command to run (POSIX sh, on the host), as written: paths in it are the host's own, not mapped under a transport root. */
  command: z.string().min(1),
  /** A guard command: the action runs only when this one fails (exits non-zero). */
  unless: z.string().min(1).optional(),
  /** The exit code that means success. */
  expected_return_code: z.number().int().min(0).max(255).default(0),
});

function tail(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed.length > OUTPUT_LIMIT ? `…${trimmed.slice(-OUTPUT_LIMIT)}` : trimmed;
}

function describeFailure(result: CommandResult, expected: number): string {
  const code = result.code === null ? 'was killed by a signal' : `exited ${result.code}`;
  const parts = [`command ${code} (expected ${expected})`];
  parts.push(result.stdout.trim() ? `stdout:\n${tail(result.stdout)}` : 'stdout: (empty)');
  parts.push(result.stderr.trim() ? `stderr:\n${tail(result.stderr)}` : 'stderr: (empty)');
  return parts.join('\n');
}

/**
 * A command to run: every apply, or only when its `unless` guard fails, or only
 * when another item triggers it (`triggered: true`). Its state is one key, `done`:
 * wanted true; actually true when the guard succeeds or when it already ran in this
 * run, so the engine's confirm step accepts an action that ran successfully.
 */
export const actionItem = defineItemType({
  name: 'action',
  description: 'run a command (unless a guard command succeeds)',
  attributes,

  cdict: () => ({ done: true }),

  async sdict(item, context) {
    if (item.attrs.unless === undefined) return { done: false };
    const code = await context.fact(commandStatus, item.attrs.unless);
    return { done: code === 0, _unless_code: code };
  },

  async fix(_change, item, context) {
    // The user's own shell code, run as written.
    const result = await context.run(rawShell(item.attrs.command));
    if (result.code !== item.attrs.expected_return_code) {
      throw new FettleError('E_COMMAND', describeFailure(result, item.attrs.expected_return_code), { where: `host ${context.host.name}` });
    }
    // Nothing to read back: having run is the new state.
    return { done: true };
  },

  displayValue: (key, value) => (key === 'done' ? (value === true ? 'done' : 'to run') : String(value)),

  diffDetail(change, item) {
    const lines = [`command: ${item.attrs.command}`];
    const code = change.sdict?.['_unless_code'];
    if (item.attrs.unless !== undefined) lines.push(`unless: ${item.attrs.unless} (exited ${typeof code === 'number' ? code : '?'})`);
    return Promise.resolve(lines.join('\n'));
  },
});
