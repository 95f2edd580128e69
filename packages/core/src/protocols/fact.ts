/**
 * A fact is a named, batched probe of host state: a shell command that answers a
 * whole list of queries, and a parser. The engine collects every query of every
 * fact asked on one host in one phase and sends them in one remote script.
 */
export interface FactEnv {
  /** The host's root prefix (`/` normally). */
  readonly root: string;
  /** Map an item path to the real path on the host. */
  path(path: string): string;
}

export interface Fact<Q, R> {
  /** Unique name, e.g. `files.stat`. */
  readonly name: string;
  /** Key that identifies equal queries (deduplicated). Default: JSON of the query. */
  key?(query: Q): string;
  /** One POSIX sh command that answers all queries. */
  command(queries: readonly Q[], env: FactEnv): string;
  /** One result per query, in the same order. Throw when the output is malformed. */
  parse(stdout: string, queries: readonly Q[], env: FactEnv): R[];
  /** Exit codes of the command that still mean success (default: only 0). */
  readonly okCodes?: readonly number[];
}

export function defineFact<Q, R>(fact: Fact<Q, R>): Fact<Q, R> {
  return fact;
}

/** Quote a string for POSIX sh. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
