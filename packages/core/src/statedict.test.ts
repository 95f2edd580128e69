import { describe, expect, it } from 'vitest';
import { secret } from './protocols/secrets.js';
import { containsSecret } from './engine/item-secrets.js';
import { diffStateDicts, isValidStateDict, validateStateDict } from './statedict.js';

describe('statedicts', () => {
  it('diffs only the public keys of the cdict, in their order, and finds nothing when they agree', () => {
    const cdict = { type: 'file', sha256: 'a', _content: Buffer.from('x'), mode: '0644', list: ['a', 'b'] };
    expect(diffStateDicts(cdict, { type: 'file', sha256: 'a', mode: '0644', list: ['a', 'b'], extra: 1 })).toBeNull();
    expect(diffStateDicts(cdict, { type: 'file', sha256: 'b', mode: '0600', list: ['a', 'c'] })).toEqual({
      cdict,
      sdict: { type: 'file', sha256: 'b', mode: '0600', list: ['a', 'c'] },
      keys: ['sha256', 'mode', 'list'],
    });
    // Creating: every public key, in order; deleting: none; both absent: nothing to do.
    expect(diffStateDicts(cdict, null)?.keys).toEqual(['type', 'sha256', 'mode', 'list']);
    expect(diffStateDicts(null, { type: 'file' })?.keys).toEqual([]);
    expect(diffStateDicts(null, null)).toBeNull();
    // Inherited keys are not the dict's own.
    const inherited = Object.assign(Object.create({ ghost: 'x' }) as Record<string, unknown>, { mode: '0644' });
    expect(diffStateDicts(inherited, { mode: '0644' })).toBeNull();
  });

  it('accepts scalars and lists of scalars, and names the place and key of anything else', () => {
    for (const dict of [null, {}, { a: 'x', b: 1, c: true, d: null, e: ['x', 2], _private: { any: 'thing' } }]) {
      expect(isValidStateDict(dict)).toBe(true);
      expect(() => validateStateDict(dict, 'here')).not.toThrow();
    }
    expect(isValidStateDict({ a: { nested: 1 } })).toBe(false);
    expect(isValidStateDict({ a: [['x']] })).toBe(false);
    expect(isValidStateDict([] as unknown as Record<string, unknown>)).toBe(false);
    expect(() => validateStateDict({ ok: 1, bad: { nested: 1 } }, () => 'item file:/x cdict')).toThrow(
      expect.objectContaining({ message: "statedict key 'bad' holds object", where: 'item file:/x cdict' }),
    );
    expect(() => validateStateDict('text' as unknown as Record<string, unknown>, 'item y sdict')).toThrow(
      expect.objectContaining({ message: 'statedict must be an object or null', where: 'item y sdict' }),
    );
  });
});

describe('containsSecret', () => {
  it('finds a SecretRef or a secret marker at any depth, and nothing in plain values', () => {
    const ref = secret('db');
    expect(containsSecret({ content: 'plain', mode: '0644', list: ['a', 1, null], bytes: new Uint8Array([1, 2]) })).toBe(false);
    expect(containsSecret(ref)).toBe(true);
    expect(containsSecret({ a: { b: [1, { c: ref }] } })).toBe(true);
    expect(containsSecret({ content: `password=${String(ref)}` })).toBe(true);
    expect(containsSecret(['x', [`${String(ref)}`]])).toBe(true);
    expect(containsSecret(Object.create({ inherited: ref }) as object)).toBe(false);
  });
});
