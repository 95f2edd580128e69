import { createHash } from 'node:crypto';
import type { StateDict, Change, DiffLine } from './protocols/item.js';
import { FettleError } from './errors.js';

function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

export function isPrivateKey(key: string): boolean {
  return key.startsWith('_');
}

/** The first public key whose value is neither a scalar nor a list of scalars; undefined when there is none. */
function firstBadKey(dict: StateDict): string | undefined {
  for (const key in dict) {
    if (!Object.hasOwn(dict, key) || isPrivateKey(key)) continue;
    const value = dict[key];
    if (!isScalar(value) && !(Array.isArray(value) && value.every(isScalar))) return key;
  }
  return undefined;
}

/** Whether `validateStateDict` would accept it, without making anything for a message. */
export function isValidStateDict(dict: StateDict | null): boolean {
  return dict === null || (typeof dict === 'object' && !Array.isArray(dict) && firstBadKey(dict) === undefined);
}

/** Check a statedict: public values must be scalars or lists of scalars. `where` may be a function, called only for a message. */
export function validateStateDict(dict: StateDict | null, where: string | (() => string)): void {
  if (dict === null) return;
  if (typeof dict !== 'object' || Array.isArray(dict)) {
    throw new FettleError('E_INTERNAL', 'statedict must be an object or null', { where: typeof where === 'string' ? where : where() });
  }
  const key = firstBadKey(dict);
  if (key !== undefined) {
    throw new FettleError('E_INTERNAL', `statedict key '${key}' holds ${typeof dict[key]}`, {
      where: typeof where === 'string' ? where : where(),
      expected: 'a string, number, boolean, null, or a list of those',
    });
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
  // One pass over the own keys (Object.keys' order), allocating only when something differs:
  // most items of most runs are in their state.
  let keys: string[] | undefined;
  for (const key in cdict) {
    if (!Object.hasOwn(cdict, key) || isPrivateKey(key)) continue;
    if (sdict === null || !sameValue(cdict[key], sdict[key])) (keys ??= []).push(key);
  }
  if (sdict === null) return { cdict, sdict, keys: keys ?? [] };
  return keys === undefined ? null : { cdict, sdict, keys };
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
