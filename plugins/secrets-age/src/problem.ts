import { FettleError } from '@fettle/core';
import { DecryptError } from './crypto.js';

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

/** One message per reason a secret file could not be decrypted, naming the secret and its file. */
export function decryptFailure(name: string, where: string, error: unknown, key: string): FettleError {
  if (!(error instanceof DecryptError)) return secretError(`cannot decrypt secret '${name}': ${messageOf(error)}`, { where, cause: error });
  switch (error.problem) {
    case 'not-age':
      return secretError(`secret '${name}' is not an age file`, {
        where,
        expected: 'a file written by `fettle secret set` or `age -r …` (starting with age-encryption.org/v1, or armored)',
        hint: `re-create it with \`fettle secret set ${name}\``,
      });
    case 'truncated':
      return secretError(`secret '${name}' is truncated or damaged: ${error.message}`, {
        where,
        expected: 'a complete age file',
        hint: `restore it from version control, or re-create it with \`fettle secret set ${name}\``,
      });
    case 'other-keys':
      return secretError(`secret '${name}' is not encrypted to ${key}: it was encrypted to other keys`, {
        where,
        expected: `a file encrypted to ${key}`,
        hint: 'if it was written for another controller key, re-create it with `fettle secret set`, or rekey it from a machine that has that key',
      });
  }
}
