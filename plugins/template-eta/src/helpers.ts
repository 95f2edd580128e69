import { shellQuote } from '@fettle/core';

/** Helpers in every template's scope as `h` (e.g. `<%= h.json(context.users) %>`). */
export const helpers = {
  /** JSON text of a value, pretty-printed by default. */
  json: (value: unknown, spaces = 2): string => JSON.stringify(value, null, spaces),
  /** Indent every line but the first (for values placed after existing indentation) — or all with `first`. */
  indent: (text: unknown, spaces = 2, first = false): string => {
    const pad = ' '.repeat(spaces);
    const lines = String(text).split('\n');
    return lines.map((line, index) => (line !== '' && (first || index > 0) ? pad + line : line)).join('\n');
  },
  /** Quote for POSIX sh. */
  shellQuote: (value: unknown): string => shellQuote(String(value)),
  /** An optional value: `h.get(vars, 'tls.port', 443)` is vars.tls.port when set, else 443 (templates are strict). */
  get: (object: unknown, path: string, fallback?: unknown): unknown => {
    let current = object;
    for (const key of path.split('.')) {
      if (current === null || typeof current !== 'object' || !(key in current)) return fallback;
      current = (current as Record<string, unknown>)[key];
    }
    return current === undefined ? fallback : current;
  },
  /** One entry per line. */
  lines: (values: readonly unknown[]): string => values.map(String).join('\n'),
};

export type TemplateHelpers = typeof helpers;
