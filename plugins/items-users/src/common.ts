import { createHash } from 'node:crypto';
import { ACCOUNT_NAME } from './facts.js';

export function validateAccountName(name: string): string | undefined {
  return ACCOUNT_NAME.test(name) ? undefined : 'expected an account name: lowercase letters, digits, _ . -, starting with a letter or _, at most 31 characters';
}

/**
 * Password hashes are compared through their sha256, so the statedict (which the
 * engine diffs, prints and may store) never holds the hash itself.
 */
export function fingerprint(hash: string): string {
  return createHash('sha256').update(hash).digest('hex');
}

export function displayAccountValue(key: string, value: unknown): string {
  if (key === 'password_hash' && typeof value === 'string') return `<hash sha256:${value.slice(0, 12)}…>`;
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(', ');
  return String(value);
}
