import { readFile, stat } from 'node:fs/promises';
import type { ConnectContext } from '@fettle/core';
import type { ParsedKey } from 'ssh2';
import ssh2 from './ssh2-parts.cjs';
import { KnownHostsIndex, parseKnownHosts, type KnownHostEntry, type KnownHostsParseResult } from './known-hosts.js';

/** A parsed key file: the key, or ssh2's reason it is not one (for instance "no passphrase given"). */
export type KeyParse = ParsedKey | Error;

/** An identity file as read: its bytes and their parse without a passphrase, or why it cannot be read. */
export type KeyFile = { readonly data: Buffer; readonly parsed: KeyParse } | { readonly error: NodeJS.ErrnoException };

/**
 * What connections read from the controller's disk, read and parsed once per run and
 * shared by every host of the run: known_hosts files, identity files (their permissions,
 * their bytes, their parse, their decryption). A thousand hosts cost one read of each,
 * not a thousand. Within the run the cache stays true to the files fettle itself
 * changes: a known_hosts file a connection records a key in is read again by the next.
 */
export class RunFiles {
  /** How many times each file was read from disk (what the once-per-run promise is tested on). */
  readonly reads = new Map<string, number>();
  readonly #texts = new Map<string, Promise<KnownHostsParseResult | null>>();
  readonly #memo = new Map<string, Promise<unknown>>();
  readonly #decrypted = new Map<string, KeyParse>();
  /** known_hosts entries indexed by host name, per list of files (one lookup per host of the run). */
  readonly #indexes = new Map<string, Promise<{ entries: KnownHostsIndex; invalid: string[] }>>();

  /** known_hosts entries of several files (missing files are empty), with their unreadable lines. */
  async knownHosts(files: readonly string[]): Promise<{ entries: KnownHostEntry[]; invalid: string[] }> {
    const entries: KnownHostEntry[] = [];
    const invalid: string[] = [];
    for (const file of files) {
      const parsed = await this.#knownHostsFile(file);
      if (!parsed) continue;
      for (const bad of parsed.invalid) invalid.push(`${file}:${bad.line}: ignored (${bad.reason})`);
      for (const entry of parsed.entries) entries.push(entry);
    }
    return { entries, invalid };
  }

  /** The entries of `files` that name `name` (what checking one host's key needs), with the unreadable lines. */
  async knownHostsFor(files: readonly string[], name: string): Promise<{ entries: KnownHostEntry[]; invalid: string[] }> {
    const key = files.join('\0');
    let index = this.#indexes.get(key);
    if (!index) {
      index = this.knownHosts(files).then((all) => ({ entries: new KnownHostsIndex(all.entries), invalid: all.invalid }));
      this.#indexes.set(key, index);
      index.catch(() => this.#indexes.delete(key)); // a failure is reported, not remembered
    }
    const { entries, invalid } = await index;
    return { entries: entries.matching(name), invalid };
  }

  /** Forget a known_hosts file this run wrote, so the next connection reads the key just recorded. */
  changed(file: string): void {
    this.#texts.delete(file);
    this.#indexes.clear();
  }

  /** The mode and owner of an identity file, or undefined when it cannot be stat'ed. */
  keyStat(file: string): Promise<{ mode: number; uid: number } | undefined> {
    return this.#once(`stat:${file}`, () => stat(file).then((info) => ({ mode: info.mode, uid: info.uid }), () => undefined));
  }

  /** An identity file's bytes and their parse without a passphrase. */
  keyFile(file: string): Promise<KeyFile> {
    return this.#once(`key:${file}`, async (): Promise<KeyFile> => {
      try {
        const data = await this.#read(file);
        return { data, parsed: firstKey(ssh2.parseKey(data)) };
      } catch (error) {
        return { error: error as NodeJS.ErrnoException };
      }
    });
  }

  /**
   * An encrypted key decrypted with the run's passphrase for it (asked once per run),
   * so the work (bcrypt rounds for OpenSSH keys) is done once, not once per host.
   */
  decrypt(file: string, data: Buffer, passphrase: string): KeyParse {
    const key = `${file}\0${passphrase}`;
    let parsed = this.#decrypted.get(key);
    if (!parsed) {
      parsed = firstKey(ssh2.parseKey(data, passphrase));
      this.#decrypted.set(key, parsed);
    }
    return parsed;
  }

  #knownHostsFile(file: string): Promise<KnownHostsParseResult | null> {
    let pending = this.#texts.get(file);
    if (!pending) {
      pending = this.#read(file).then(
        (data) => parseKnownHosts(data.toString('utf8'), file),
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return null;
          throw error;
        },
      );
      this.#texts.set(file, pending);
      pending.catch(() => this.#texts.delete(file)); // a failure is reported, not remembered
    }
    return pending;
  }

  #once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let pending = this.#memo.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = make();
      this.#memo.set(key, pending);
    }
    return pending;
  }

  #read(file: string): Promise<Buffer> {
    this.reads.set(file, (this.reads.get(file) ?? 0) + 1);
    return readFile(file);
  }
}

function firstKey(result: ParsedKey | ParsedKey[] | Error): KeyParse {
  if (Array.isArray(result)) return result[0] ?? new Error('no key in file');
  return result;
}

const perRun = new WeakMap<object, RunFiles>();

/** The files of the context's run (one set per run); a connection outside a run gets its own. */
export function runFiles(context: Pick<ConnectContext, 'runScope'>): RunFiles {
  const scope = context.runScope;
  if (!scope) return new RunFiles();
  let files = perRun.get(scope);
  if (!files) {
    files = new RunFiles();
    perRun.set(scope, files);
  }
  return files;
}
