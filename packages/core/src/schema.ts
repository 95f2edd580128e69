import type { z } from 'zod';
import { FettleError, type ErrorCode } from './errors.js';

/** Describe a value's kind the way users think of it, for "got …" in messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join('.');
}

/** Turn zod issues into one readable sentence per issue. */
export function describeIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const path = issuePath(issue.path);
    const at = path ? `attribute '${path}'` : 'value';
    let actual: unknown = input;
    for (const part of issue.path) {
      actual = actual !== null && typeof actual === 'object' ? (actual as Record<PropertyKey, unknown>)[part] : undefined;
    }
    switch (issue.code) {
      case 'unrecognized_keys':
        return `unknown attribute${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${path ? `${path}.` : ''}${k}'`).join(', ')}`;
      case 'invalid_type':
        if (actual === undefined) return `missing required ${at} (expected ${issue.expected})`;
        return `${at}: expected ${issue.expected}, got ${describeValue(actual)}`;
      case 'invalid_union': {
        // One of several types (text or bytes, say): name them all, and what was given.
        const expected = issue.errors.map((branch) => (branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0 ? branch[0].expected : undefined));
        if (actual === undefined || expected.some((entry) => entry === undefined)) return `${at}: ${issue.message}`;
        return `${at}: expected ${expected.map((entry) => (entry === 'Uint8Array' ? 'bytes' : entry)).join(' or ')}, got ${describeValue(actual)}`;
      }
      default:
        return `${at}: ${issue.message}`;
    }
  });
}

/** Parse with a schema, or throw a FettleError naming where and what was expected. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  code: ErrorCode,
  where: string,
): z.output<S> {
  // Without zod's JIT: it compiles a function (`new Function`) per object schema at its first
  // parse, which pays only when a schema parses many values. This one parses a site, an
  // inventory, options, or an input already found wrong; per-item parses call safeParse themselves.
  const result = schema.safeParse(input, { jitless: true });
  if (result.success) return result.data;
  const problems = describeIssues(result.error, input);
  throw new FettleError(code, problems.join('; '), { where });
}
