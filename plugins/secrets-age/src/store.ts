import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isFettleError, type HostStore, type SecretReaders, type SecretStore } from '@fettle/core';
import { atomicWrite, readTextIfExists } from './atomic.js';
import { DecryptError, decryptWith, encryptTo, isArmored } from './crypto.js';
import { checkRecipient, defaultControllerKeyFile, describeSource, loadIdentities, parseIdentities, recipientOf, resolvePath, type KeySource } from './keys.js';
import { decryptFailure, secretError } from './problem.js';
import { NO_READERS, normalizeReaders, readerHosts, readReaders, writeReaders, type GroupResolver, type StoredReaders } from './readers.js';

/** Group name → member host names. */
export type GroupMembers = Readonly<Record<string, readonly string[]>>;
export type { GroupResolver } from './readers.js';

export interface AgeSecretStoreOptions {
  /** The site folder: secrets go in `<dir>/secrets`, host public keys in `<dir>/keys/hosts`. */
  readonly dir: string;
  /** The controller's public key (`age1…`): every secret is encrypted to it. */
  readonly controllerRecipient: string;
  /**
   * Where the controller's private key comes from. Needed to decrypt, not to encrypt.
   * Default: `$XDG_CONFIG_HOME/fettle/controller.key` (or `~/.config/fettle/controller.key`).
   */
  readonly keySource?: KeySource | undefined;
  /** Resolves the groups named as readers (e.g. `groupsOf(hosts)`). */
  readonly groups?: GroupResolver | GroupMembers | undefined;
  /** Write new secrets ASCII-armored (default true); an existing file keeps its format. */
  readonly armor?: boolean | undefined;
  /** Default `secrets`, relative to `dir`. */
  readonly secretsDir?: string | undefined;
  /** Default `keys/hosts`, relative to `dir`. */
  readonly hostKeysDir?: string | undefined;
  /** How long a key command may run (it may wait for a password prompt). Default 120 s. */
  readonly keyCommandTimeoutMs?: number | undefined;
}

/** A secret and the readers its readers file names. */
export interface SecretListing extends StoredReaders {
  readonly name: string;
}

/** What rekey did to one secret: the hosts it is now encrypted to (besides the controller). */
export interface RekeyResult {
  readonly name: string;
  readonly hosts: readonly string[];
}

const BRAND = Symbol.for('fettle.age-secret-store');
/** Secret and host names become file names: no slashes, no leading dot. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function checkName(name: string, what: 'secret' | 'host'): void {
  if (!NAME.test(name)) {
    throw secretError(`'${name}' is not a valid ${what} name`, {
      expected: 'letters, digits, `_`, `.` and `-`, not starting with `.` or `-`',
    });
  }
}

/** A resolver for reader groups from the site's host store. */
export function groupsOf(hosts: HostStore): GroupResolver {
  return async (group) => {
    const groups = await hosts.listGroups();
    return Object.hasOwn(groups, group) ? groups[group] : undefined;
  };
}

/**
 * A SecretStore on age X25519 keys, laid out so the age CLI can read and write
 * the same files:
 *
 *   secrets/<name>.age           the secret, encrypted to the controller and its reader hosts
 *   secrets/<name>.readers.json  { "hosts": [...], "groups": [...] } (absent: controller only)
 *   keys/hosts/<host>.pub        each host's public key (age1…)
 *
 * The readers file, not the file's recipients, decides what `get(name, host)`
 * allows, so removing a reader takes effect at once; `rekey()` then re-encrypts
 * so the removed host cannot decrypt the new file either.
 */
export class AgeSecretStore implements SecretStore {
  readonly [BRAND] = true;
  readonly describe: string;
  readonly dir: string;
  readonly secretsDir: string;
  readonly hostKeysDir: string;
  /** As configured; checked when first used so a site with a placeholder still loads. */
  readonly controllerRecipient: string;
  readonly keySource: KeySource;
  readonly #groups: GroupResolver | undefined;
  readonly #armor: boolean;
  readonly #timeoutMs: number | undefined;
  #identities: Promise<string[]> | undefined;

  constructor(options: AgeSecretStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.secretsDir = path.resolve(this.dir, options.secretsDir ?? 'secrets');
    this.hostKeysDir = path.resolve(this.dir, options.hostKeysDir ?? path.join('keys', 'hosts'));
    this.describe = `age secrets in ${this.secretsDir}`;
    this.controllerRecipient = options.controllerRecipient;
    this.keySource = options.keySource ?? { file: defaultControllerKeyFile() };
    const groups = options.groups;
    this.#groups = typeof groups === 'function' ? groups : groups === undefined ? undefined : (group) => (Object.hasOwn(groups, group) ? groups[group] : undefined);
    this.#armor = options.armor ?? true;
    this.#timeoutMs = options.keyCommandTimeoutMs;
  }

  /** True for an AgeSecretStore, even one loaded from another copy of this package. */
  static isAgeSecretStore(value: unknown): value is AgeSecretStore {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  secretPath(name: string): string {
    checkName(name, 'secret');
    return path.join(this.secretsDir, `${name}.age`);
  }

  readersPath(name: string): string {
    checkName(name, 'secret');
    return path.join(this.secretsDir, `${name}.readers.json`);
  }

  hostKeyPath(host: string): string {
    checkName(host, 'host');
    return path.join(this.hostKeysDir, `${host}.pub`);
  }

  async list(): Promise<readonly string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.secretsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return entries
      .filter((entry) => entry.endsWith('.age') && !entry.startsWith('.'))
      .map((entry) => entry.slice(0, -'.age'.length))
      .sort();
  }

  /** The readers file of a secret (the controller only when there is none). */
  async readers(name: string): Promise<StoredReaders> {
    return (await readReaders(this.readersPath(name))) ?? NO_READERS;
  }

  async listWithReaders(): Promise<readonly SecretListing[]> {
    const names = await this.list();
    return Promise.all(names.map(async (name) => ({ name, ...(await this.readers(name)) })));
  }

  /** The hosts that may read a secret: its reader hosts plus the members of its reader groups. */
  async readerHosts(name: string): Promise<readonly string[]> {
    return this.#resolve(await this.readers(name), this.readersPath(name));
  }

  /**
   * Decrypts a secret with the controller key, as text (UTF-8). With `forHost`,
   * first checks that the host may read it: the engine passes the host whose items
   * it builds, so a role cannot hand a secret to a host outside its readers.
   */
  async get(name: string, forHost?: string): Promise<string> {
    return Buffer.from(await this.getBytes(name, forHost)).toString('utf8');
  }

  /** Decrypts a secret with the controller key, byte for byte (a keytab, a DER key). */
  async getBytes(name: string, forHost?: string): Promise<Uint8Array> {
    const file = await this.#readSecretFile(name);
    if (forHost !== undefined) {
      const hosts = await this.readerHosts(name);
      if (!hosts.includes(forHost)) {
        const readersFile = this.readersPath(name);
        throw secretError(`host '${forHost}' may not read secret '${name}'`, {
          where: readersFile,
          expected: `one of its readers (${hosts.length > 0 ? hosts.join(', ') : 'none: the controller only'})`,
          hint: `add "${forHost}" or one of its groups to ${readersFile}, then run \`fettle secret rekey\``,
        });
      }
    }
    let identities: string[];
    try {
      identities = await this.#controllerIdentities();
    } catch (error) {
      // The key, not the secret, is wrong: say which secret needed it.
      if (isFettleError(error)) throw secretError(`cannot decrypt secret '${name}': ${error.message}`, { where: error.where, expected: error.expected, hint: error.hint });
      throw error;
    }
    try {
      return await decryptWith(file, identities);
    } catch (error) {
      throw decryptFailure(name, this.secretPath(name), error, `the controller key ${this.controllerRecipient}`);
    }
  }

  /**
   * Decrypts a secret as a host would (pull mode, tests): with the host's own
   * identity, given as key text or a key source. Succeeds only for secrets
   * encrypted to that host.
   */
  async getAsHost(name: string, hostKey: string | KeySource): Promise<string> {
    const where = typeof hostKey === 'string' ? 'the host key' : describeSource(hostKey, this.dir);
    const identities = typeof hostKey === 'string' ? parseIdentities(hostKey, where) : await loadIdentities(hostKey, this.dir, this.#timeoutMs);
    const file = await this.#readSecretFile(name);
    try {
      return Buffer.from(await decryptWith(file, identities)).toString('utf8');
    } catch (error) {
      const recipients = await Promise.all(identities.map((identity) => recipientOf(identity)));
      if (error instanceof DecryptError && error.problem !== 'other-keys') throw decryptFailure(name, this.secretPath(name), error, 'this host key');
      throw secretError(`this host key (${recipients.join(', ')}) cannot decrypt secret '${name}'`, {
        where: this.secretPath(name),
        expected: "a secret encrypted to this host's public key",
        hint: `the host is not a reader, or was added without a rekey: check ${this.readersPath(name)} and run \`fettle secret rekey\``,
        cause: error,
      });
    }
  }

  /**
   * Encrypts a secret to the controller and its readers' hosts. Without
   * `readers`, an existing secret keeps its readers (a new one: controller only).
   */
  async set(name: string, value: string | Uint8Array, readers?: SecretReaders): Promise<void> {
    const secretFile = this.secretPath(name);
    const readersFile = this.readersPath(name);
    const stored = readers === undefined ? ((await readReaders(readersFile)) ?? NO_READERS) : normalizeReaders(readers);
    for (const host of stored.hosts) checkName(host, 'host');
    const hosts = await this.#resolve(stored, readersFile);
    const recipients = await this.#recipients(hosts);
    const existing = await readFile(secretFile).catch(() => undefined);
    const armored = existing === undefined ? this.#armor : isArmored(existing);
    await atomicWrite(secretFile, await encryptTo(value, recipients, armored), 0o644);
    await writeReaders(readersFile, stored);
  }

  /**
   * Re-encrypts secrets (all by default) to their current readers. Everything
   * is decrypted and encrypted before anything is written, so a missing host key
   * stops the rekey with no file changed.
   */
  async rekey(options: { readonly names?: readonly string[] } = {}): Promise<readonly RekeyResult[]> {
    const names = options.names ?? (await this.list());
    const planned: { name: string; hosts: readonly string[]; data: string | Uint8Array }[] = [];
    for (const name of names) {
      const stored = await this.readers(name);
      const hosts = await this.#resolve(stored, this.readersPath(name));
      const recipients = await this.#recipients(hosts);
      const file = await this.#readSecretFile(name);
      const value = await this.getBytes(name);
      planned.push({ name, hosts, data: await encryptTo(value, recipients, isArmored(file)) });
    }
    for (const { name, data } of planned) await atomicWrite(this.secretPath(name), data, 0o644);
    return planned.map(({ name, hosts }) => ({ name, hosts }));
  }

  /** A host's public key from `keys/hosts/<host>.pub`, or undefined when there is none. */
  async hostRecipient(host: string): Promise<string | undefined> {
    const file = this.hostKeyPath(host);
    const text = await readTextIfExists(file);
    if (text === undefined) return undefined;
    const line = text
      .split('\n')
      .map((entry) => entry.trim())
      .find((entry) => entry !== '' && !entry.startsWith('#'));
    return checkRecipient(line ?? '', file, `write the host's public key (age-keygen -y KEYFILE) into ${file}`);
  }

  async setHostRecipient(host: string, recipient: string): Promise<void> {
    const file = this.hostKeyPath(host);
    await atomicWrite(file, `${checkRecipient(recipient, file)}\n`, 0o644);
  }

  async #readSecretFile(name: string): Promise<Uint8Array> {
    const file = this.secretPath(name);
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const names = await this.list();
      throw secretError(`no secret named '${name}'`, {
        where: file,
        expected: names.length > 0 ? `one of ${names.join(', ')}` : 'a secret (there are none yet)',
        hint: `create it with \`fettle secret set ${name}\``,
      });
    }
  }

  #resolve(readers: StoredReaders, where: string): Promise<string[]> {
    return readerHosts(readers, this.#groups, where);
  }

  async #recipients(hosts: readonly string[]): Promise<string[]> {
    const recipients = new Set([
      checkRecipient(this.controllerRecipient, 'the age store option controllerRecipient', 'run `fettle secret keygen` and configure the public key it prints'),
    ]);
    for (const host of hosts) {
      const recipient = await this.hostRecipient(host);
      if (recipient === undefined) {
        throw secretError(`host '${host}' has no public key`, {
          where: this.hostKeyPath(host),
          expected: 'an age public key (age1…) in this file',
          hint: `run \`fettle secret keygen --host ${host}\``,
        });
      }
      recipients.add(recipient);
    }
    return [...recipients];
  }

  #controllerIdentities(): Promise<string[]> {
    this.#identities ??= this.#loadController().catch((error: unknown) => {
      // Do not cache a failure: the user may fix the file mode and retry.
      this.#identities = undefined;
      throw error;
    });
    return this.#identities;
  }

  async #loadController(): Promise<string[]> {
    const source = this.keySource;
    const controller = checkRecipient(this.controllerRecipient, 'the age store option controllerRecipient');
    const identities = await loadIdentities(source, this.dir, this.#timeoutMs);
    const recipients = await Promise.all(identities.map((identity) => recipientOf(identity)));
    if (!recipients.includes(controller)) {
      throw secretError(`the ${describeSource(source, this.dir)} holds ${recipients.join(', ')}, not the controller key`, {
        where: 'file' in source ? resolvePath(this.dir, source.file) : describeSource(source, this.dir),
        expected: `the identity of the controller public key ${controller}`,
        hint: 'point keySource at the controller key, or fix controllerRecipient (controller_age_pub)',
      });
    }
    return identities;
  }
}

/** An age secret store for a site. */
export function ageSecretStore(options: AgeSecretStoreOptions): AgeSecretStore {
  return new AgeSecretStore(options);
}
