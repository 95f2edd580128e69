/**
 * Secrets. A role never holds a plaintext: it holds a SecretRef, which the engine
 * resolves only when an item of a selected host uses it, and registers with the
 * run's Redactor so no output path can print it.
 */
export interface SecretStore {
  readonly describe: string;
  /** Names of all secrets. */
  list(): Promise<readonly string[]>;
  /** Decrypt one secret. `forHost` lets a store check that the host may read it. */
  get(name: string, forHost?: string): Promise<string>;
  /** Encrypt and store a secret, readable by the controller and the given readers. */
  set(name: string, value: string, readers?: SecretReaders): Promise<void>;
  /**
   * Decrypt one secret as a host itself would, with the host's own key (a node
   * applying itself: deploy, pull). Optional: a store without it cannot serve nodes.
   */
  getAsHost?(name: string, hostKey: { readonly file: string }): Promise<string>;
}

export interface SecretReaders {
  readonly hosts?: readonly string[];
  readonly groups?: readonly string[];
}

const SECRET_REF = Symbol.for('fettle.secret-ref');

/** A lazy reference to a named secret. Prints as `<secret:NAME>`. */
export interface SecretRef {
  readonly [SECRET_REF]: true;
  readonly name: string;
  toString(): string;
  toJSON(): string;
}

export function secret(name: string): SecretRef {
  const display = `<secret:${name}>`;
  return {
    [SECRET_REF]: true,
    name,
    toString: () => display,
    toJSON: () => display,
  };
}

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SECRET_REF] === true;
}
