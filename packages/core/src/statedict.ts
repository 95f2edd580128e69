import { createHash } from 'node:crypto';
import type { StateDict, Change, DiffLine } from './protocols/item.js';
import { FettleError } from './errors.js';

function isScalar(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

export function isPrivateKey(key: string): boolean {
  return key.startsWith('_');
}

/** Check a statedict: public values must be scalars or lists of scalars. `where` may be a function, called only for a message. */
export function validateStateDict(dict: StateDict | null, where: string | (() => string)): void {
  if (dict === null) return;
  const place = (): string => (typeof where === 'string' ? where : where());
  if (typeof dict !== 'object' || Array.isArray(dict)) {
    throw new FettleError('E_INTERNAL', 'statedict must be an object or null', { where: place() });
  }
  for (const key in dict) {
    if (!Object.hasOwn(dict, key) || isPrivateKey(key)) continue;
    const value = dict[key];
    const ok = isScalar(value) || (Array.isArray(value) && value.every(isScalar));
    if (!ok) {
      throw new FettleError('E_INTERNAL', `statedict key '${key}' holds ${typeof value}`, {
        where: place(),
        expected: 'a string, number, boolean, null, or a list of those',
      });
    }
  }
}

/** The public part of a statedict (private `_` keys removed). */
export function publicState(dict: StateDict | null): Record<string, unknown> | null {
  if (dict === null) return null;
  return Object.fromEntries(Object.entries(dict).filter(([key]) => !isPrivateKey(key)));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

/** Compare desired and actual state; only the keys of the cdict count. */
export function diffStateDicts(cdict: StateDict | null, sdict: StateDict | null): Change | null {
  if (cdict === null) return sdict === null ? null : { cdict, sdict, keys: [] };
  const keys = Object.keys(cdict).filter((key) => !isPrivateKey(key));
  if (sdict === null) return { cdict, sdict, keys };
  const differing = keys.filter((key) => !sameValue(cdict[key], sdict[key]));
  return differing.length === 0 ? null : { cdict, sdict, keys: differing };
}

/** A stable hash of the public part of a statedict (for stamps and caches). */
export function hashStateDict(dict: StateDict | null): string {
  const pub = publicState(dict);
  const canonical = pub === null ? 'null' : JSON.stringify(Object.keys(pub).sort().map((k) => [k, pub[k]]));
  return createHash('sha256').update(canonical).digest('hex');
}

export function displayValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The lines of a change as shown to the user; private keys never appear. */
export function diffLines(change: Change, display: (key: string, value: unknown) => string = (_k, v) => displayValue(v)): DiffLine[] {
  if (change.cdict === null) return [{ key: 'exists', want: 'no', have: 'yes' }];
  if (change.sdict === null) {
    return change.keys.map((key) => ({ key, want: display(key, change.cdict?.[key]), have: undefined }));
  }
  return change.keys.map((key) => ({
    key,
    want: display(key, change.cdict?.[key]),
    have: display(key, change.sdict?.[key]),
  }));
}
