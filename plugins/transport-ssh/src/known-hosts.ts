import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  readonly file: string;
  /** 1-based line number, for messages that point at the line to fix. */
  readonly line: number;
  readonly marker?: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written: `a,b,[c]:2222`, or `|1|salt|hash`. */
  readonly hosts: string;
  /** Key type as written in the line, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** Raw key blob (base64-decoded third field): what the server offers in the handshake. */
  readonly key: Buffer;
}

export interface KnownHostsParseResult {
  readonly entries: KnownHostEntry[];
  /** Lines that could not be read, so callers can warn instead of silently ignoring them. */
  readonly invalid: { readonly line: number; readonly reason: string }[];
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,3}$/;

/** Parse known_hosts text (plain, hashed, `[host]:port`, `@revoked`, `@cert-authority`). */
export function parseKnownHosts(text: string, file = '(known_hosts)'): KnownHostsParseResult {
  const entries: KnownHostEntry[] = [];
  const invalid: { line: number; reason: string }[] = [];
  text.split('\n').forEach((raw, index) => {
    const lineText = raw.trim();
    if (lineText === '' || lineText.startsWith('#')) return;
    const fields = lineText.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return void invalid.push({ line: index + 1, reason: `unknown marker ${name ?? ''}` });
    }
    const [hosts, keyType, blob] = fields;
    if (!hosts || !keyType || !blob || !BASE64_RE.test(blob)) {
      return void invalid.push({ line: index + 1, reason: 'expected: hosts key-type base64-key [comment]' });
    }
    const key = Buffer.from(blob, 'base64');
    if (keyTypeOfBlob(key) === undefined) return void invalid.push({ line: index + 1, reason: 'the key is not a valid SSH key blob' });
    entries.push({ file, line: index + 1, marker, hosts, keyType, key });
  });
  return { entries, invalid };
}

/** The name OpenSSH looks up: `host`, or `[host]:port` when the port is not 22. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `SHA256:<base64 without padding>` of a key blob, exactly as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer | Uint8Array): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type inside a blob (its first SSH string), or undefined when the blob is malformed. */
export function keyTypeOfBlob(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > key.length) return undefined;
  const type = key.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9@.-]+$/.test(type) ? type : undefined;
}

/** A known_hosts line for a key, unhashed or hashed (`HashKnownHosts yes`). */
export function formatKnownHostLine(name: string, key: Buffer, options: { hash?: boolean; salt?: Buffer } = {}): string {
  const type = keyTypeOfBlob(key);
  if (!type) throw new Error('not an SSH key blob');
  let hosts = name.toLowerCase(); // what ssh looks up, and what ssh-keygen -H hashes
  if (options.hash) {
    const salt = options.salt ?? randomBytes(20); // SHA-1 sized, like ssh-keygen -H
    hosts = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${hosts} ${type} ${key.toString('base64')}`;
}

/** Whether an entry's host field names `name` (hashed entries by HMAC-SHA1, patterns with `*`, `?` and `!`). */
export function entryMatches(entry: Pick<KnownHostEntry, 'hosts'>, name: string): boolean {
  return matcherOf(entry.hosts)(name);
}

/**
 * Whether a host field names a host: plain names and patterns compare lowercased; a hashed entry
 * hashes the name as given (ssh-keygen -F does; a connection looks up the lowercased name). Made
 * once per line by KnownHostsIndex, which checks every host of a run against the same lines:
 * the salt and hash decoded once (each check is then one HMAC, which the format makes
 * unavoidable), a pattern's RegExp built once.
 */
type HostMatcher = (name: string) => boolean;

function matcherOf(hosts: string): HostMatcher {
  return hosts.startsWith('|1|') ? hashedMatcher(hosts) : listMatcher(hosts);
}

function hashedMatcher(hosts: string): HostMatcher {
  const [, , salt, hash] = hosts.split('|');
  if (!salt || !hash) return () => false;
  const expected = Buffer.from(hash, 'base64');
  const key = Buffer.from(salt, 'base64');
  return (name) => {
    const actual = createHmac('sha1', key).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  };
}

function listMatcher(hosts: string): HostMatcher {
  const patterns = hosts.split(',').map((pattern) => {
    const negated = pattern.startsWith('!');
    return { negated, matches: globMatcher(negated ? pattern.slice(1) : pattern) };
  });
  return (name) => {
    const lower = name.toLowerCase();
    let matched = false;
    for (const pattern of patterns) {
      if (!pattern.matches(lower)) continue;
      if (pattern.negated) return false; // OpenSSH: a matching negation vetoes the whole list
      matched = true;
    }
    return matched;
  };
}

function globMatcher(pattern: string): HostMatcher {
  const lower = pattern.toLowerCase();
  // Most entries name hosts plainly: no pattern to compile.
  if (!lower.includes('*') && !lower.includes('?')) return (name) => lower === name;
  const source = lower
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  const regex = new RegExp(`^${source}$`);
  return (name) => regex.test(name);
}

/**
 * The plain host names of an entry (lowercased) when its field is a list of names without
 * patterns or negations, which a lookup can find by name; undefined for the rest (hashed,
 * patterns), which are checked one by one.
 */
function plainNames(entry: Pick<KnownHostEntry, 'hosts'>): string[] | undefined {
  if (entry.hosts.startsWith('|') || /[*?!]/.test(entry.hosts)) return undefined;
  return [...new Set(entry.hosts.toLowerCase().split(','))];
}

/**
 * The entries of known_hosts files, for looking up every host of a run: entries that list plain
 * names are found by name; the others (hashed, patterns, negations) are checked one by one,
 * as ssh checks every line. Matches come in file order, as a scan would give them.
 */
export class KnownHostsIndex {
  readonly #entries: readonly KnownHostEntry[];
  readonly #byName = new Map<string, number[]>();
  /** The lines checked one by one, with their matcher. */
  readonly #others: { readonly at: number; readonly matches: HostMatcher }[] = [];

  constructor(entries: readonly KnownHostEntry[]) {
    this.#entries = entries;
    entries.forEach((entry, at) => {
      const names = plainNames(entry);
      if (!names) return void this.#others.push({ at, matches: matcherOf(entry.hosts) });
      for (const name of names) {
        const list = this.#byName.get(name);
        if (list) list.push(at);
        else this.#byName.set(name, [at]);
      }
    });
  }

  /** The entries that name `name`. */
  matching(name: string): KnownHostEntry[] {
    const lower = name.toLowerCase();
    const found = [...(this.#byName.get(lower) ?? [])];
    for (const other of this.#others) if (other.matches(lower)) found.push(other.at);
    return found.sort((a, b) => a - b).map((at) => this.#entries[at] as KnownHostEntry);
  }
}

export type HostKeyVerdict =
  | { readonly kind: 'known'; readonly entry: KnownHostEntry }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'changed'; readonly expected: readonly KnownHostEntry[] }
  | { readonly kind: 'revoked'; readonly entry: KnownHostEntry };

/**
 * Decide on an offered host key the way ssh does (checked against the ssh client by
 * known-hosts-table.test.ts). The name is lowercased first: ssh looks up the lowercased
 * host name, for plain and hashed entries alike. A host with entries but none equal to
 * the key is "changed", whatever their key types: OpenSSH 9 says "REMOTE HOST
 * IDENTIFICATION HAS CHANGED" for a host known only under another type too, and
 * refuses it under accept-new as well.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const lower = name.toLowerCase();
  const mine = entries.filter((entry) => entryMatches(entry, lower));
  const revoked = mine.find((entry) => entry.marker === 'revoked' && entry.key.equals(key));
  if (revoked) return { kind: 'revoked', entry: revoked };
  // @cert-authority lines sign host certificates, which ssh2 does not negotiate: they cannot match a plain key.
  const plain = mine.filter((entry) => entry.marker === undefined);
  const same = plain.find((entry) => entry.key.equals(key));
  if (same) return { kind: 'known', entry: same };
  return plain.length > 0 ? { kind: 'changed', expected: plain } : { kind: 'unknown' };
}

/** Key types known for `name`, to offer first in the handshake (OpenSSH orders host key algorithms the same way). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  const types = new Set<string>();
  for (const entry of entries) {
    if (entry.marker !== undefined || !entryMatches(entry, name.toLowerCase())) continue;
    const type = keyTypeOfBlob(entry.key);
    if (type) types.add(type);
  }
  return [...types];
}
