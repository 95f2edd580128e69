import { FettleError } from '@fettle/core';

/**
 * An E_SECRET error. Callers never put a plaintext or a private key in any field:
 * messages name secrets, files and public keys only.
 */
export function secretError(message: string, details: { where?: string; expected?: string; hint?: string; cause?: unknown } = {}): FettleError {
  return new FettleError('E_SECRET', message, details);
}

/** The message of an unknown error, for errors whose text is known to hold no secret. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
