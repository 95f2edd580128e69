/**
 * Secrets. A role never holds a plaintext: it holds a SecretRef, which the engine
 * resolves only when an item of a selected host uses it, and registers with the
 * run's Redactor so no output path can print it.
 */
export interface SecretStore {
  readonly describe: string;
  /** Names of all secrets. */
  list(): Promise<readonly string[]>;
  /** Decrypt one secret as text. `forHost` lets a store check that the host may read it. */
  get(name: string, forHost?: string): Promise<string>;
  /**
   * Decrypt one secret as bytes (a keytab, a DER key). Secrets are bytes; text is one
   * way to read them. When a store has it, the engine uses it, so binary secrets reach
   * items byte-exact.
   */
  getBytes?(name: string, forHost?: string): Promise<Uint8Array>;
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

/**
 * A lazy reference to a named secret. Used as an attribute it becomes the secret's
 * value (text, or bytes when it is not UTF-8). Put inside a string
 * (`\`token=${secret('api')}\``) it leaves a marker there that the engine replaces
 * with the value: the string, and the item holding it, then carry the secret.
 */
export interface SecretRef {
  readonly [SECRET_REF]: true;
  readonly name: string;
  /** The marker the engine resolves inside strings. */
  toString(): string;
  toJSON(): string;
}

/**
 * Markers are `\u0000fettle-secret:NAME\u0000`: a NUL never appears in an attribute a
 * user typed, so the marker cannot be confused with text.
 */
// eslint-disable-next-line no-control-regex -- the NUL is the point: no typed text holds one
const MARKER = /\u0000fettle-secret:([^\u0000]+)\u0000/g;
// eslint-disable-next-line no-control-regex -- the same marker, for a test that keeps no state
const ONE_MARKER = /\u0000fettle-secret:[^\u0000]+\u0000/;

export function secret(name: string): SecretRef {
  const marker = `\u0000fettle-secret:${name}\u0000`;
  return {
    [SECRET_REF]: true,
    name,
    toString: () => marker,
    toJSON: () => `<secret:${name}>`,
  };
}

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SECRET_REF] === true;
}

/** The secrets a string refers to through markers (in order, with repeats). */
export function secretMarkers(text: string): string[] {
  if (!hasSecretMarker(text)) return [];
  return [...text.matchAll(MARKER)].map((match) => match[1] as string);
}

/** Whether a string holds a secret marker (a scan, no allocation: most strings hold none). */
export function hasSecretMarker(text: string): boolean {
  return text.includes('\u0000fettle-secret:') && ONE_MARKER.test(text);
}

/** Replace each secret marker in a string with what `replace` gives for its name. */
export function replaceSecretMarkers(text: string, replace: (name: string) => string): string {
  return text.replace(MARKER, (_match, name: string) => replace(name));
}

/** A string with every secret marker shown as `<secret:NAME>`, for messages and previews. */
export function showSecretMarkers(text: string): string {
  return replaceSecretMarkers(text, (name) => `<secret:${name}>`);
}
