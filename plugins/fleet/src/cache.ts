import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, z } from '@fettle/core';
import { discoverySchema, hostUpdatesSchema, unreachableReasonSchema } from './model.js';
import { migrate } from './migrations.js';

/**
 * The state cache: one JSON file with what the fleet commands last learned about
 * each host. Only the fields below are ever written (the schema is strict), so
 * host vars, transport options and secrets cannot leak into it.
 */

export const CACHE_SCHEMA_VERSION = 2;
export const DEFAULT_STALE_AFTER_MS = 24 * 60 * 60 * 1000;

const isoTime = z.iso.datetime();

export const cacheEntrySchema = z.strictObject({
  online: z.boolean().nullable(),
  /** Last time the host answered. */
  lastSeen: isoTime.nullable(),
  /** Last time a command tried to reach it. */
  lastAttempt: isoTime.nullable(),
  lastError: z
    .strictObject({ status: z.enum(['unreachable', 'failed']), reason: unreachableReasonSchema.nullable(), message: z.string(), at: isoTime })
    .nullable(),
  discovery: discoverySchema.extend({ discoveredAt: isoTime }).nullable(),
  updates: hostUpdatesSchema.nullable(),
  reposSyncedAt: isoTime.nullable(),
});
export type CacheEntry = z.output<typeof cacheEntrySchema>;

export const cacheFileSchema = z.strictObject({
  schemaVersion: z.literal(CACHE_SCHEMA_VERSION),
  savedAt: isoTime,
  hosts: z.record(z.string(), cacheEntrySchema),
});
export type CacheFile = z.output<typeof cacheFileSchema>;

export const emptyEntry = (): CacheEntry => ({
  online: null,
  lastSeen: null,
  lastAttempt: null,
  lastError: null,
  discovery: null,
  updates: null,
  reposSyncedAt: null,
});

const age = (iso: string | null | undefined, now: Date): number => (iso ? now.getTime() - Date.parse(iso) : Infinity);

/** Updates are stale when never listed, older than the threshold, or older than the last repo sync. */
export function updatesStale(entry: CacheEntry | undefined, now: Date, staleAfterMs: number): boolean {
  const refreshed = entry?.updates?.refreshedAt;
  if (!refreshed || age(refreshed, now) > staleAfterMs) return true;
  return entry.reposSyncedAt !== null && Date.parse(entry.reposSyncedAt) > Date.parse(refreshed);
}

export function discoveryStale(entry: CacheEntry | undefined, now: Date, staleAfterMs: number): boolean {
  return age(entry?.discovery?.discoveredAt, now) > staleAfterMs;
}

export interface OpenCacheOptions {
  readonly path: string;
  readonly now?: (() => Date) | undefined;
  /** Called with a one-line warning (corrupt or newer file). */
  readonly warn?: ((message: string) => void) | undefined;
}

export class StateCache {
  readonly path: string;
  readonly #now: () => Date;
  readonly #warn: (message: string) => void;
  readonly #hosts: Map<string, CacheEntry>;
  readonly #touched = new Set<string>();
  /** Set when the file was written by a newer fettle: it is read, never overwritten. */
  readonly #readOnly: boolean;
  #saving: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = 0;

  private constructor(file: string, hosts: Map<string, CacheEntry>, readOnly: boolean, now: () => Date, warn: (message: string) => void) {
    this.path = file;
    this.#hosts = hosts;
    this.#readOnly = readOnly;
    this.#now = now;
    this.#warn = warn;
  }

  /** Open the cache; a missing file is an empty cache, a corrupt one is set aside and rebuilt. */
  static async open(options: OpenCacheOptions): Promise<StateCache> {
    const now = options.now ?? (() => new Date());
    const warn = options.warn ?? (() => undefined);
    const loaded = await load(options.path, now, warn);
    return new StateCache(options.path, new Map(Object.entries(loaded.hosts)), loaded.readOnly, now, warn);
  }

  get hostNames(): string[] {
    return [...this.#hosts.keys()].sort();
  }

  get(name: string): CacheEntry | undefined {
    return this.#hosts.get(name);
  }

  /** Change one host's entry; saved by the next save(). */
  set(name: string, change: (entry: CacheEntry) => CacheEntry): CacheEntry {
    const next = cacheEntrySchema.parse(change(this.#hosts.get(name) ?? emptyEntry()));
    this.#hosts.set(name, next);
    this.#touched.add(name);
    return next;
  }

  /**
   * Write atomically (temp file, fsync, rename). Only the hosts this process changed
   * are written over what is on disk now, so two runs on disjoint hosts keep both.
   * Saves are queued, so callers may save after every host.
   */
  save(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const run = this.#saving.then(() => this.#write());
    this.#saving = run.catch(() => undefined);
    return run;
  }

  /**
   * Save within `intervalMs`, coalescing calls: a run saves as hosts finish without
   * rewriting a large file once per host. The run's final save() writes the rest.
   */
  saveSoon(intervalMs: number, onError: (error: unknown) => void): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastWrite + intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.save().catch(onError);
    }, wait);
    this.#timer.unref(); // never keeps the process alive; save() follows anyway
  }

  async #write(): Promise<void> {
    if (this.#readOnly || this.#touched.size === 0) return;
    this.#lastWrite = Date.now();
    const onDisk = await load(this.path, this.#now, () => undefined, false);
    const hosts: Record<string, CacheEntry> = onDisk.readOnly ? {} : { ...onDisk.hosts };
    for (const name of this.#touched) {
      const entry = this.#hosts.get(name);
      if (entry) hosts[name] = entry;
    }
    const file = cacheFileSchema.parse({ schemaVersion: CACHE_SCHEMA_VERSION, savedAt: this.#now().toJSON(), hosts: sortKeys(hosts) });
    await writeAtomic(this.path, `${JSON.stringify(file, null, 2)}\n`);
  }

  /** For reports: a warning once when saves are off. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  warnIfReadOnly(): void {
    if (this.#readOnly) this.#warn(`state cache ${this.path} was written by a newer fettle: results of this run are not saved`);
  }
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

async function load(
  file: string,
  now: () => Date,
  warn: (message: string) => void,
  setAsideCorrupt = true,
): Promise<{ hosts: Record<string, CacheEntry>; readOnly: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { hosts: {}, readOnly: false };
    throw error;
  }
  let problem: string;
  try {
    const migrated = migrate(JSON.parse(text) as unknown, CACHE_SCHEMA_VERSION);
    if (migrated.kind === 'newer') {
      warn(`state cache ${file} has schemaVersion ${migrated.version}, newer than this fettle knows (${CACHE_SCHEMA_VERSION}): read-only`);
      return { hosts: {}, readOnly: true };
    }
    const parsed = cacheFileSchema.safeParse(migrated.data);
    if (parsed.success) return { hosts: parsed.data.hosts, readOnly: false };
    const issue = parsed.error.issues[0];
    problem = `${issue?.path.join('.') || 'top level'}: ${issue?.message ?? 'invalid'}`;
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  if (setAsideCorrupt) {
    // Keep the bad file for a person to look at rather than silently dropping it.
    const aside = `${file}.corrupt-${now().toJSON().replace(/[:.]/g, '-')}`;
    await rename(file, aside).catch(() => undefined);
    warn(`state cache ${file} is corrupt (${problem}); moved it to ${path.basename(aside)} and starting a new one`);
  }
  return { hosts: {}, readOnly: false };
}

/** The cache file is private to the controller's user: 0600, written atomically. */
export function writeAtomic(file: string, text: string): Promise<void> {
  return writeFileAtomic(file, text, { mode: 0o600, createFolder: true });
}
