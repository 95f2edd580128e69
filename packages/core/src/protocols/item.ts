import type { z } from 'zod';
import type { ExecOptions, FileData, FileOwnership } from './transport.js';
import type { Fact } from './fact.js';
import type { Host } from './host.js';
import type { HostPath, Shell } from './shell.js';

/** A JSON scalar. */
export type Scalar = string | number | boolean | null;
/** A value in a statedict: a scalar or a list of scalars. */
export type StateValue = Scalar | readonly Scalar[];
/**
 * A flat record describing state. Keys starting with `_` are a private cache
 * (a rendered template, say): never compared, never shown.
 */
export type StateDict = Readonly<Record<string, unknown>>;

/** What differs between the desired (cdict) and actual (sdict) state of one item. */
export interface Change {
  /** Desired state; null means "should not exist". */
  readonly cdict: StateDict | null;
  /** Actual state; null means "does not exist". */
  readonly sdict: StateDict | null;
  /** Public keys whose values differ (all cdict keys when creating, none when deleting). */
  readonly keys: readonly string[];
}

/** The item as its type's hooks see it. */
export interface ItemInstance<A> {
  /** `type:name` */
  readonly id: string;
  readonly name: string;
  readonly attrs: A;
  /** True when any attribute came from a secret: a type can protect what it writes (mode 0600). */
  readonly usesSecrets?: boolean | undefined;
}

/** A decoded command result for item code. */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * What the engine gives item hooks: the host, batched facts and commands, atomic
 * file writes. Commands and fact queries made in the same tick by any items on one
 * host travel together in one remote script.
 *
 * Paths: `readFile`/`writeFile` take item paths and map them themselves. Commands are
 * built with the `sh` tag, which takes a path only as `hostPath(itemPath)`: the same
 * mapping, so a command cannot touch `/etc` when the transport's root is a sandbox.
 */
export interface ItemContext {
  readonly host: Host;
  /** The host's root prefix (`/` normally). */
  readonly root: string;
  /** An item path as a path of the host (the transport's root in front), for `sh\`…\``. */
  hostPath(path: string): HostPath;
  /** Ask a fact; batched with every other ask on this host in this tick. */
  fact<Q, R>(fact: Fact<Q, R>, query: Q): Promise<R>;
  /** Run a command built with `sh` (batched). Never throws for a non-zero exit: check `code`. */
  run(command: Shell, options?: ExecOptions): Promise<RunResult>;
  /** Run a command built with `sh` (batched) and throw with its stderr when it exits non-zero. */
  runChecked(command: Shell, options?: ExecOptions): Promise<RunResult>;
  /** Read a file on the host (real path computed from the item path). */
  readFile(path: string): Promise<Buffer | null>;
  /** Decrypt a secret for this host (registered for redaction first). */
  secret(name: string): Promise<string>;
  /** Write a file atomically (temp, fsync, mode/owner, rename); `createParents` first makes missing folders (one batched `mkdir -p`). */
  writeFile(path: string, data: FileData, ownership?: FileOwnership, options?: WriteOptions): Promise<void>;
  /** Tell the user something that is not a failure (a deprecated attribute, a value the host rounded); printed with the host and item. */
  warn(message: string): void;
  /** Folder of the site, for attributes that name files in the site. */
  readonly siteDir: string;
}

/** What `check` gets: the host and the site, no connection. */
export interface CheckContext {
  readonly host: Host;
  readonly siteDir: string;
  /** Decrypt a secret for this host (registered for redaction first); a missing one is an input error. */
  secret(name: string): Promise<string>;
}

/** Options of `ItemContext.writeFile`. */
export interface WriteOptions {
  /** Create missing parent folders (mode 0755) before writing. */
  readonly createParents?: boolean | undefined;
}

/** A line of a diff as shown to the user. */
export interface DiffLine {
  readonly key: string;
  /** Desired value as displayed, or undefined when the item should not exist. */
  readonly want?: string | undefined;
  /** Actual value as displayed, or undefined when it does not exist. */
  readonly have?: string | undefined;
}

/**
 * The definition of an item type, read top to bottom as: name, attributes with
 * defaults (the schema), then cdict, sdict, fix; presentation apart.
 */
export interface ItemTypeDefinition<S extends z.ZodType> {
  /** The `type` in `type:name`, e.g. `file`. */
  readonly name: string;
  readonly description?: string | undefined;
  /**
   * The attribute schema, usually a `z.strictObject` so unknown attributes are
   * rejected; defaults come from `.default()`, required attributes are the ones
   * without `.optional()`.
   */
  readonly attributes: S;
  /**
   * A shortcut past the schema for the plain cases, for types with many items per host:
   * the parsed attributes when `input` is plainly valid (exactly what the schema would
   * give, keys in the schema's order), or undefined to let the schema decide and word any
   * error. Parsing with zod costs several microseconds and a few kilobytes per item.
   */
  quickParse?(input: Readonly<Record<string, unknown>>): z.output<S> | undefined;
  /** Defaults for the common attributes of items of this type (e.g. `{ triggered: true }` for a restart). */
  readonly commonDefaults?: Partial<CommonAttributes> | undefined;
  /** Item types that may not run at the same time as this one on one host. */
  readonly blockConcurrent?: readonly string[] | undefined;
  /**
   * Declares that the item's name is a path and that its fix touches that path only,
   * asking for all its remote work at once (one command or one write, in the tick
   * `fix` is called). `container`: fixing a missing one makes an empty folder there
   * (a directory); `leaf`: nothing exists under it (a file, a symlink). The engine
   * then fixes an item absent under a missing container in the same batch as the
   * container, after it (and skips it, without running it, when the container's fix fails).
   */
  readonly pathScope?: 'container' | 'leaf' | undefined;
  /** Ids of items this item needs when they exist (e.g. the parent directory). */
  implicitNeeds?(item: ItemInstance<z.output<S>>): readonly string[];
  /** Check the item's name (a path must be absolute, say). Return an error message or undefined. */
  validateName?(name: string): string | undefined;
  /**
   * Check what can be checked without a host, before any host is contacted: files in
   * the site exist and are readable, templates compile and render for this host.
   * Throw a FettleError naming the place (template file:line, the attribute); the
   * engine adds the host, role and item.
   */
  check?(item: ItemInstance<z.output<S>>, context: CheckContext): void | Promise<void>;
  /** Desired state, or null for "should not exist". */
  cdict(item: ItemInstance<z.output<S>>, context: ItemContext): StateDict | null | Promise<StateDict | null>;
  /** Actual state, or null for "does not exist". Ask facts through the context. */
  sdict(item: ItemInstance<z.output<S>>, context: ItemContext): Promise<StateDict | null>;
  /**
   * Make the actual state equal the desired state; only the differing keys are given.
   * Return the new state to skip the confirming gather (an action has no state to
   * read back: it returns `{ done: true }` once it ran).
   */
  fix(change: Change, item: ItemInstance<z.output<S>>, context: ItemContext): Promise<void | StateDict>;
  /**
   * Fix many items of this type at once (one apt-get for all packages ready together).
   * When present the engine calls it instead of `fix` for items of one wave.
   */
  fixMany?(entries: readonly { change: Change; item: ItemInstance<z.output<S>> }[], context: ItemContext): Promise<void>;
  /** Display a state value (default: JSON for lists, the string otherwise). */
  displayValue?(key: string, value: unknown): string;
  /** What the item would write, for `fettle items HOST --preview ITEM` (a rendered template). */
  preview?(item: ItemInstance<z.output<S>>, context: { readonly host: Host; readonly siteDir: string }): Promise<string>;
  /** Extra text shown under the diff, such as a unified diff of a file's content. */
  diffDetail?(change: Change, item: ItemInstance<z.output<S>>, context: ItemContext): Promise<string | undefined>;
}

/** An item type with its schema types erased, as the registry stores it. */
export type AnyItemType = ItemTypeDefinition<z.ZodType>;

export function defineItemType<S extends z.ZodType>(definition: ItemTypeDefinition<S>): ItemTypeDefinition<S> {
  return definition;
}

/** Attributes every item accepts, whatever its type (BundleWrap's names). */
export interface CommonAttributes {
  /** Item ids (or `type:` for every item of a type) that must be done first. */
  readonly needs?: readonly string[];
  /** Items that must wait for this one. */
  readonly needed_by?: readonly string[];
  /** Items to trigger when this item changed. */
  readonly triggers?: readonly string[];
  /** Run only when triggered by another item. */
  readonly triggered?: boolean;
  /** Free labels, for selecting items. */
  readonly tags?: readonly string[];
  /** Leave this item alone. */
  readonly skip?: boolean;
}

/** What a role returns: item id (`type:name`) → attributes. */
export type ItemMap = Readonly<Record<string, Readonly<Record<string, unknown>>>>;
