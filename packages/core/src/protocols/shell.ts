import path from 'node:path';

/**
 * Commands for item and fact code, built so that a path cannot reach a host unmapped.
 *
 * A `Shell` is a command (or a fragment of one) made only by the `sh` tag, `arg()` or
 * `rawShell()`. `sh` quotes every value put into it and accepts paths only as a
 * `HostPath`, which only `context.hostPath()` / `env.hostPath()` make: they put the
 * transport's root in front of an item path, exactly as `readFile`/`writeFile` do. A
 * plain string put into `sh` is a type error (and an error at run time, for plugins
 * written in JavaScript): it must be said to be a path (`hostPath`) or not one (`arg`).
 *
 *   await context.runChecked(sh`chmod ${arg(mode)} ${context.hostPath(item.name)}`);
 */

// Symbol.for: two copies of @fettle/core in one process still recognise each other's values.
const SHELL: unique symbol = Symbol.for('fettle.shell');
const HOST_PATH: unique symbol = Symbol.for('fettle.host-path');

/** A shell command or fragment; its text is ready to run (every value in it quoted). */
export interface Shell {
  readonly [SHELL]: true;
  /** The command text, as the host's `sh` will read it. */
  readonly text: string;
}

/** A path on the host with the transport's root already in front. Made by `hostPath()` only. */
export interface HostPath {
  readonly [HOST_PATH]: true;
  /** The real path on the host (for parsers that match a command's output against it). */
  readonly path: string;
}

/** What `sh` accepts between `${}`: a fragment, a mapped path, a number, or a list of these (joined by spaces). */
export type ShellValue = Shell | HostPath | number | readonly ShellValue[];

/** Separators `joinShell` may put between fragments. */
export type ShellSeparator = ' ' | '\n' | '; ' | ' && ' | ' || ' | ' | ';

function makeShell(text: string): Shell {
  return Object.freeze({ [SHELL]: true as const, text });
}

export function isShell(value: unknown): value is Shell {
  return typeof value === 'object' && value !== null && (value as { [SHELL]?: unknown })[SHELL] === true;
}

export function isHostPath(value: unknown): value is HostPath {
  return typeof value === 'object' && value !== null && (value as { [HOST_PATH]?: unknown })[HOST_PATH] === true;
}

/** Quote a string for POSIX sh. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `the number ${String(value)}`;
  return value === null ? 'null' : typeof value;
}

function render(value: unknown): string {
  if (isShell(value)) return value.text;
  if (isHostPath(value)) return shellQuote(value.path);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (Array.isArray(value)) return value.map(render).join(' ');
  throw new TypeError(
    `sh\`…\` cannot take ${describe(value)}: put a path through context.hostPath() (or env.hostPath() in a fact) so the host's root is in front, and mark any other value with arg()`,
  );
}

/**
 * Build a command. Literal text is kept as written (escapes as in any template literal);
 * every `${value}` must be a `ShellValue` and is quoted.
 */
export function sh(literals: TemplateStringsArray, ...values: readonly ShellValue[]): Shell {
  let text = literals[0] ?? '';
  values.forEach((value, index) => {
    text += render(value) + (literals[index + 1] ?? '');
  });
  return makeShell(text);
}

/** A value that is not a path (a user name, a mode, a sysctl key): quoted as one word. */
export function arg(value: string | number): Shell {
  return makeShell(shellQuote(String(value)));
}

/**
 * Text used as shell code exactly as given: nothing is quoted and no path in it is mapped.
 * For commands the user wrote themselves (an `action` item's `command`), never for paths.
 */
export function rawShell(text: string): Shell {
  return makeShell(text);
}

/** Fragments joined by one separator (`joinShell(steps, ' && ')`); an empty list gives an empty command. */
export function joinShell(parts: readonly Shell[], separator: ShellSeparator): Shell {
  return makeShell(parts.map(render).join(separator));
}

/** The text of a command, refusing anything not built by `sh`/`arg`/`rawShell` (a plain string from JavaScript code). */
export function shellText(command: unknown, where: string): string {
  if (isShell(command)) return command.text;
  throw new TypeError(`${where} takes a command built with sh\`…\` (paths through hostPath()), not ${describe(command)}; rawShell() runs text as written`);
}

/**
 * The real path of an item path under a transport root: `/` leaves it as it is; any other
 * root is put in front, and `..` cannot climb out of it.
 */
export function mapItemPath(root: string, itemPath: string): string {
  if (root === '/' || root === '') return itemPath;
  // The common case, an absolute path with no `.`/`..`/empty segment under a clean root, needs no normalising.
  if (isPlain(itemPath) && isPlainRoot(root)) return root + itemPath;
  return path.posix.join(root, path.posix.resolve('/', itemPath));
}

/** A host's root is the same string for every path of the host: checked once, not once per path. */
let lastRoot: string | undefined;
let lastRootPlain = false;

function isPlainRoot(root: string): boolean {
  if (root !== lastRoot) {
    lastRoot = root;
    lastRootPlain = isPlain(root);
  }
  return lastRootPlain;
}

function isPlain(absolute: string): boolean {
  return absolute.startsWith('/') && !absolute.endsWith('/') && !absolute.includes('//') && !absolute.includes('/.');
}

/** A path of the host made from an item path, the one way item and fact code gets a `HostPath`. */
export function hostPathUnder(root: string, itemPath: string): HostPath {
  return Object.freeze({ [HOST_PATH]: true as const, path: mapItemPath(root, itemPath) });
}
