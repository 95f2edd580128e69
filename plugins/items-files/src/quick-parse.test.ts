import { describe, expect, it } from 'vitest';
import type { AnyItemType } from '@fettle/core';
import { directoryItem, fileItem, symlinkItem } from './index.js';

const types = [fileItem, directoryItem, symlinkItem] as unknown as AnyItemType[];

// Every attribute, each with plain values and values only the schema may judge.
const values: Record<string, unknown[]> = {
  content: ['', 'hello\n', 'ünïcode ✓', Buffer.from('bytes'), new Uint8Array([1, 2]), 7, null, undefined],
  source: ['files/motd', '', 3, undefined],
  encoding: ['utf-8', 'base64', 'latin1', undefined],
  mode: ['644', '0644', '1777', '0o644', '888', '12', '06444', 644, '', undefined],
  owner: ['root', '', 0, undefined],
  group: ['root', 'www-data', '', null],
  delete: [true, false, 'yes', undefined],
  target: ['/etc/x', 'relative/x', '', undefined],
  bogus: [1],
};

/** Every input of up to three attributes from `values`, and a few whole ones. */
function corpus(): Record<string, unknown>[] {
  const keys = Object.keys(values);
  const inputs: Record<string, unknown>[] = [{}];
  for (const [i, a] of keys.entries()) {
    for (const va of values[a] ?? []) {
      inputs.push({ [a]: va });
      for (const b of keys.slice(i + 1)) {
        for (const vb of values[b] ?? []) {
          inputs.push({ [a]: va, [b]: vb });
          for (const vc of ['root', '0600', true]) inputs.push({ [a]: va, [b]: vb, owner: vc, mode: vc });
        }
      }
    }
  }
  inputs.push({ content: 'x', mode: '0644', owner: 'root', group: 'root' }, { target: '/a', owner: 'root', group: 'root', delete: false });
  inputs.push({ mode: '0755', owner: 'root', group: 'root' }, Object.assign(Object.create(null) as object, { mode: '0644' }));
  inputs.push({ [Symbol('s')]: 1, mode: '0644' }, { content: 'x', source: 'y' });
  return inputs;
}

describe('quickParse of the file-like item types', () => {
  for (const type of types) {
    it(`${type.name}: gives exactly what the schema gives, or leaves the input to the schema`, () => {
      let quick = 0;
      let rejected = 0;
      for (const input of corpus()) {
        const fast = type.quickParse?.(input);
        const parsed = type.attributes.safeParse(input);
        if (!parsed.success) rejected++;
        if (fast === undefined) continue;
        quick++;
        expect(parsed.success, JSON.stringify(input)).toBe(true);
        // Same values and the same key order (JSON output shows attributes in order).
        expect(fast).toStrictEqual(parsed.data);
        expect(Object.keys(fast as object)).toEqual(Object.keys(parsed.data as object));
      }
      // The corpus exercises both sides: many plain inputs taken quickly, many bad ones left to zod.
      expect(quick).toBeGreaterThan(10);
      expect(rejected).toBeGreaterThan(50);
    });
  }

  it('takes the plain workload shapes without zod, and leaves bytes and undefined values to the schema', () => {
    expect(fileItem.quickParse?.({ content: 'x\n', mode: '644', owner: 'root', group: 'root' })).toStrictEqual({ content: 'x\n', encoding: 'utf-8', mode: '0644', owner: 'root', group: 'root', delete: false });
    expect(directoryItem.quickParse?.({})).toStrictEqual({ mode: '0755', delete: false });
    expect(symlinkItem.quickParse?.({ target: '/t' })).toStrictEqual({ target: '/t', delete: false });
    expect(fileItem.quickParse?.({ content: Buffer.from('x') })).toBeUndefined();
    expect(fileItem.quickParse?.({ content: 'x', mode: undefined })).toBeUndefined();
    expect(symlinkItem.quickParse?.({ owner: 'root' })).toBeUndefined();
  });
});
