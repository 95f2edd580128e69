/**
 * The plain cases of the file-like schemas without zod (`quickParse` of an item type):
 * a host of a thousand files parses a thousand attribute objects, and zod costs several
 * microseconds and a few kilobytes each. Anything unusual (bytes, an undefined value, a
 * key the type does not know, a value the schema would reject) is left to the schema,
 * which words the error; quick-parse.test.ts checks both agree.
 */

/** A field's check: its parsed value, or NOT_PLAIN to let the schema decide. */
export type QuickField = (value: unknown) => unknown;
export const NOT_PLAIN: unique symbol = Symbol('not plain');

export const text: QuickField = (value) => (typeof value === 'string' ? value : NOT_PLAIN);
export const nonEmptyText: QuickField = (value) => (typeof value === 'string' && value.length > 0 ? value : NOT_PLAIN);
export const flag: QuickField = (value) => (typeof value === 'boolean' ? value : NOT_PLAIN);
export const oneOf = (...choices: readonly string[]): QuickField => (value) => (typeof value === 'string' && choices.includes(value) ? value : NOT_PLAIN);
/** modeSchema's rule and normalisation. */
export const octalMode: QuickField = (value) => (typeof value === 'string' && /^[0-7]{3,4}$/.test(value) ? value.padStart(4, '0') : NOT_PLAIN);

/**
 * A quickParse for a strict object schema: `fields` in the schema's order (the output's
 * key order), `defaults` for the fields with `.default()`, `whole` for the schema's
 * refinements (false: let the schema say why).
 */
export function quickObject<T>(
  fields: Readonly<Record<string, QuickField>>,
  defaults: Readonly<Record<string, unknown>> = {},
  whole?: (parsed: Record<string, unknown>) => boolean,
): (input: Readonly<Record<string, unknown>>) => T | undefined {
  const keys = Object.keys(fields);
  return (input) => {
    if (Object.getPrototypeOf(input) !== Object.prototype) return undefined;
    // Indexed loops: this runs for every file of every host, and an iterator each is garbage.
    let known = 0;
    const parsed: Record<string, unknown> = {};
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      if (!Object.hasOwn(input, key)) {
        if (Object.hasOwn(defaults, key)) parsed[key] = defaults[key];
        continue;
      }
      known++;
      const value = (fields[key] as QuickField)(input[key]);
      if (value === NOT_PLAIN) return undefined;
      parsed[key] = value;
    }
    // A key the schema does not know (strict) is the schema's to name; symbol keys it ignores, as here.
    let count = 0;
    for (const key in input) if (Object.hasOwn(input, key)) count++;
    if (known !== count) return undefined;
    if (whole && !whole(parsed)) return undefined;
    return parsed as T;
  };
}
