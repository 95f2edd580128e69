/**
 * Typed errors. Every error a user can cause names where it happened and what was
 * expected, so the CLI can print one clear line (and a stack only with --debug).
 */
export type ErrorCode =
  | 'E_SITE' // the site config could not be loaded or is malformed
  | 'E_INVENTORY' // the host store rejected its input
  | 'E_SELECTOR' // a host selector named no host, or is malformed
  | 'E_PLUGIN' // plugin clash or malformed plugin
  | 'E_ITEM_TYPE' // an item names a type no plugin provides
  | 'E_ATTRIBUTE' // an item attribute failed its schema
  | 'E_DEPENDENCY' // a dependency names no item, or a cycle
  | 'E_ARGUMENT' // bad command-line arguments
  | 'E_ROLE' // a role threw, or returned something that is not an item map
  | 'E_REFERENCE' // a name in the site refers to nothing: a secret, a template, a source file
  | 'E_TEMPLATE' // a template does not compile or does not render
  | 'E_SECRET' // a secret could not be read or decrypted
  | 'E_TRANSPORT' // a host could not be reached or a command could not run
  | 'E_COMMAND' // a remote command failed
  | 'E_NOT_RUN' // a command its batch did not run: the host lock's take or a dependency's fix failed first
  | 'E_INTERNAL';

export interface ErrorDetails {
  /** Where it happened: a file and line, a host, an item id, an attribute path. */
  where?: string;
  /** What was expected there. */
  expected?: string;
  /** One hint on how to fix it. */
  hint?: string;
  cause?: unknown;
}

export class FettleError extends Error {
  readonly code: ErrorCode;
  readonly where: string | undefined;
  readonly expected: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'FettleError';
    this.code = code;
    this.where = details.where;
    this.expected = details.expected;
    this.hint = details.hint;
  }

  /** True for errors the user caused with their input (exit code 3 in the CLI). */
  get isInputError(): boolean {
    return INPUT_CODES.has(this.code);
  }
}

const INPUT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_SITE',
  'E_INVENTORY',
  'E_SELECTOR',
  'E_PLUGIN',
  'E_ITEM_TYPE',
  'E_ATTRIBUTE',
  'E_DEPENDENCY',
  'E_ARGUMENT',
  'E_ROLE',
  'E_REFERENCE',
  'E_TEMPLATE',
  // A missing, corrupt or unreadable secret, or a wrong key: the site's input, not a host's failure.
  'E_SECRET',
]);

export function isFettleError(error: unknown): error is FettleError {
  return error instanceof Error && (error as { name?: unknown }).name === 'FettleError' && 'code' in error;
}

/** One line for humans: "where: message (expected …) hint: …". */
export function formatError(error: unknown): string {
  if (isFettleError(error)) {
    const parts = [error.where ? `${error.where}: ${error.message}` : error.message];
    if (error.expected) parts.push(`expected ${error.expected}`);
    let text = parts.join(': ');
    if (error.hint) text += `\n  hint: ${error.hint}`;
    return text;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
