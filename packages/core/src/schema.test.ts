import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FettleError } from './errors.js';
import { parseOrThrow } from './schema.js';

/** Runs `f` while counting the functions compiled from source (`new Function`, what zod's JIT does). */
function countingCompiles<T>(f: () => T): { value: T; compiled: number } {
  const original = globalThis.Function;
  let compiled = 0;
  globalThis.Function = new Proxy(original, {
    construct(target, args: unknown[]) {
      compiled++;
      return Reflect.construct(target, args) as object;
    },
  });
  try {
    return { value: f(), compiled };
  } finally {
    globalThis.Function = original;
  }
}

describe('parseOrThrow', () => {
  it("parses without zod's JIT (no function compiled for a schema parsed once), to the same value and the same error", () => {
    const schema = () => z.strictObject({ name: z.string(), port: z.number().int().optional(), tags: z.array(z.strictObject({ key: z.string() })) });
    const input = { name: 'web', port: 22, tags: [{ key: 'a' }] };

    // Schemas are made before they parse (zod checks once, at the first, that it may compile at all).
    const [site, same, again] = [schema(), schema(), schema()];
    const once = countingCompiles(() => parseOrThrow(site, input, 'E_SITE', 'site config'));
    expect(once.value).toEqual(input);
    expect(once.compiled).toBe(0);
    // The count sees zod's JIT where it runs: a plain safeParse of the same shape compiles its fast path.
    const jit = countingCompiles(() => same.safeParse(input));
    expect(jit.value.success).toBe(true);
    expect(jit.compiled).toBeGreaterThan(0);

    const wrong = { name: 'web', port: 2.5, tags: [{ key: 1 }], extra: true };
    const thrown = countingCompiles(() => {
      try {
        parseOrThrow(again, wrong, 'E_SITE', 'site config');
        return undefined;
      } catch (error) {
        return error;
      }
    });
    expect(thrown.compiled).toBe(0);
    expect(thrown.value).toBeInstanceOf(FettleError);
    expect((thrown.value as FettleError).message).toBe("attribute 'port': expected int, got number 2.5; attribute 'tags.0.key': expected string, got number 1; unknown attribute 'extra'");
  });
});
