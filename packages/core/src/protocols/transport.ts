import type { z } from 'zod';
import type { Host } from './host.js';

/** The raw result of one remote command. Bytes, so batch framing stays exact. */
export interface ExecResult {
  /** Exit code, or null when the process died of a signal. */
  readonly code: number | null;
  readonly signal?: string | undefined;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

export interface ExecOptions {
  readonly stdin?: string | Uint8Array | undefined;
  readonly timeoutMs?: number | undefined;
}

export interface FileOwnership {
  /** Octal mode such as `0644`. */
  readonly mode?: string | undefined;
  readonly owner?: string | undefined;
  readonly group?: string | undefined;
}

/**
 * A file on the controller to copy to a host without holding it in memory: the
 * transport streams exactly `size` bytes from `localPath` (a file that changed
 * size since is refused, never written half). Made by `localFile()`.
 */
export interface LocalFile {
  readonly kind: 'local-file';
  readonly localPath: string;
  readonly size: number;
}

/** What an item may write: text, bytes, or a file on the controller streamed to the host. */
export type FileData = string | Uint8Array | LocalFile;

export function isLocalFile(data: unknown): data is LocalFile {
  return typeof data === 'object' && data !== null && (data as { kind?: unknown }).kind === 'local-file';
}

export interface RemoteStat {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly size: number;
  /** Octal mode such as `0644`. */
  readonly mode: string;
}

/**
 * How commands and files reach a host. Paths given to a transport are real paths
 * on the host; the engine has already put `root` in front of item paths.
 */
export interface Transport {
  /** Prefix for every item path (`/` normally; a sandbox folder in tests and demos). */
  readonly root: string;
  /** Run a shell command (through `sh -c` or the login shell) with optional stdin. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Read a file; null when it does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /** Write atomically: temp file in the same folder, fsync, mode and owner set, rename. */
  writeFile(path: string, data: string | Uint8Array, ownership?: FileOwnership): Promise<void>;
  /**
   * Write a controller file the same way, streamed (large `source` files). Optional:
   * without it the engine reads the file and calls `writeFile`.
   */
  writeLocalFile?(path: string, file: LocalFile, ownership?: FileOwnership): Promise<void>;
  stat(path: string): Promise<RemoteStat | null>;
  close(): Promise<void>;
  /**
   * Optional: the transport's writes (`writeFile` and `writeLocalFile` in one), their
   * commands sent through the engine's batch (`link`) instead of commands of their own,
   * so a fix's writes travel in the same remote command as the fixes around them.
   */
  writeVia?(link: BatchLink): (path: string, data: FileData, ownership?: FileOwnership) => Promise<void>;
}

/** How a transport's write reaches the engine's batch (see `Transport.writeVia`). */
export interface BatchLink {
  /**
   * Run a command inside the batch being built (as the target user, like the batch;
   * its stdin travels in the batch script). Rejects when a gate of the batch kept it
   * from running (the host lock's take or a dependency's fix failed first).
   */
  run(command: string, stdin: Uint8Array): Promise<ExecResult>;
  /** The most stdin `run` takes; a larger or streamed payload goes as a command of its own through `follow`. */
  readonly maxStdin: number;
  /**
   * Run `send` (the write as a command of its own) once the batch being built is done,
   * if the gates it would have had in the batch passed; rejects (without calling it)
   * otherwise. The engine counts it in flight until it settles.
   */
  follow<T>(send: () => Promise<T>): Promise<T>;
}

/** Context a transport gets when it connects. */
export interface ConnectContext {
  /** Folder of the site, for resolving relative paths in options. */
  readonly siteDir: string;
  /** Abort the connection attempt (Ctrl-C, or the run's deadline). */
  readonly signal?: AbortSignal | undefined;
  /** Report a warning (for example `host key checking is off`). */
  warn(message: string): void;
  /** Ask the user for a secret value on a TTY (a passphrase, a sudo password). Null when not interactive. */
  prompt?: ((question: string) => Promise<string | null>) | undefined;
  /**
   * The same object for every host of one run: a transport keys what it reads once
   * per run (key files, known_hosts) on it, in a WeakMap, so nothing outlives the run.
   * Absent for a connection outside a run: nothing is shared.
   */
  readonly runScope?: object | undefined;
}

/** One hop on the way to a host, with the settings the transport will use for it. */
export interface TransportHop {
  /** The name this hop was resolved for (what you would type after `ssh`). */
  readonly name: string;
  /** `keyword value` pairs in the transport's own spelling (`ssh -G`'s for SSH transports). */
  readonly settings: readonly (readonly [keyword: string, value: string])[];
}

/** Effective connection settings of a host, without connecting (`fettle hosts HOST --ssh`). */
export interface TransportDescription {
  /** Jump hosts first, the host itself last. */
  readonly hops: readonly TransportHop[];
  /** Settings the transport cannot honour, each naming the setting. */
  readonly warnings: readonly string[];
}

/** A transport as a plugin provides it. */
export interface TransportDefinition<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  /** Schema of `host.transportOptions`. */
  readonly options: S;
  connect(host: Host, options: z.output<S>, context: ConnectContext): Promise<Transport>;
  /** Optional: the settings `connect` would use, resolved without touching the host. */
  describe?(host: Host, options: z.output<S>, context: ConnectContext): Promise<TransportDescription>;
}

export function defineTransport<S extends z.ZodType>(definition: TransportDefinition<S>): TransportDefinition<S> {
  return definition;
}

/**
 * Thrown by a transport when the host cannot be reached at all (refused, timeout,
 * host key refused, authentication failed): reported as "unreachable", exit code 2.
 */
export class UnreachableError extends Error {
  readonly reason: 'refused' | 'timeout' | 'host-key' | 'auth' | 'dns' | 'lost' | 'other';
  constructor(reason: UnreachableError['reason'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnreachableError';
    this.reason = reason;
  }
}

export function isUnreachableError(error: unknown): error is UnreachableError {
  return error instanceof Error && error.name === 'UnreachableError';
}
