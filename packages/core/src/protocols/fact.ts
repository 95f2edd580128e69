import { hostPathUnder, joinShell, sh, type HostPath, type Shell } from './shell.js';

export { shellQuote } from './shell.js';

/**
 * A fact is a named, batched probe of host state: a shell command that answers a
 * whole list of queries, and a parser. The engine collects every query of every
 * fact asked on one host in one phase and sends them in one remote script.
 */
export interface FactEnv {
  /** The host's root prefix (`/` normally). */
  readonly root: string;
  /** An item path as a path of the host (the root in front), the only kind of path `sh` takes. */
  hostPath(path: string): HostPath;
}

/** The env the engine gives facts on a transport with this root: for testing a fact's command and parser. */
export function factEnv(root = '/'): FactEnv {
  return { root, hostPath: (itemPath) => hostPathUnder(root, itemPath) };
}

export interface Fact<Q, R> {
  /** Unique name, e.g. `files.stat`. */
  readonly name: string;
  /** Key that identifies equal queries (deduplicated). Default: JSON of the query. */
  key?(query: Q): string;
  /** One POSIX sh command that answers all queries, built with `sh` (paths through `env.hostPath`). */
  command(queries: readonly Q[], env: FactEnv): Shell;
  /** One result per query, in the same order. Throw when the output is malformed. */
  parse(stdout: string, queries: readonly Q[], env: FactEnv): R[];
  /** Exit codes of the command that still mean success (default: only 0). */
  readonly okCodes?: readonly number[];
}

export function defineFact<Q, R>(fact: Fact<Q, R>): Fact<Q, R> {
  return fact;
}

/** What one query's snippet produced, as `defineFactPerQuery` hands it to `parseOne`. */
export interface QueryOutput {
  /** Exit code of the snippet. */
  readonly code: number;
  /** Its stdout (stderr is discarded). */
  readonly stdout: string;
}

export interface FactPerQuery<Q, R> {
  readonly name: string;
  key?(query: Q): string;
  /** A POSIX sh snippet (built with `sh`) that answers one query on stdout; it runs in a subshell, so `exit` ends only it. */
  each(query: Q, env: FactEnv): Shell;
  /** The answer to one query from its snippet's exit code and stdout. */
  parseOne(output: QueryOutput, query: Q, env: FactEnv): R;
}

/**
 * A fact written one query at a time: the core frames each snippet's exit code and exact
 * output (a `@CODE BYTES` line, then the bytes), so no output can spoof another query's
 * answer and no author invents a format. Still one remote command for all queries.
 */
export function defineFactPerQuery<Q, R>(spec: FactPerQuery<Q, R>): Fact<Q, R> {
  return {
    name: spec.name,
    ...(spec.key ? { key: spec.key.bind(spec) } : {}),
    command: (queries, env) =>
      joinShell(
        // A subshell per query, so neither its variables nor LC_ALL (bytes, not characters, for the length) leak into the script.
        queries.map((query) => sh`(o=$( (${spec.each(query, env)}\n) 2>/dev/null; c=$?; printf x; exit $c ); c=$?; o=\${o%x}; LC_ALL=C; printf '@%d %d\\n%s' "$c" "\${#o}" "$o")`),
        '\n',
      ),
    parse(stdout, queries, env) {
      const bytes = Buffer.from(stdout, 'utf8');
      const answers: R[] = [];
      let at = 0;
      for (const query of queries) {
        const newline = bytes.indexOf(10, at);
        const header = /^@(\d+) (\d+)$/.exec(bytes.subarray(at, newline === -1 ? bytes.length : newline).toString('latin1'));
        if (!header || newline === -1) throw new Error(`${spec.name}: malformed output for query ${answers.length + 1} of ${queries.length}`);
        const end = newline + 1 + Number(header[2]);
        if (end > bytes.length) throw new Error(`${spec.name}: output of query ${answers.length + 1} is cut short`);
        answers.push(spec.parseOne({ code: Number(header[1]), stdout: bytes.subarray(newline + 1, end).toString('utf8') }, query, env));
        at = end;
      }
      return answers;
    },
  };
}
