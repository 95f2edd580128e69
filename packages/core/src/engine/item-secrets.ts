import type { Host } from '../protocols/host.js';
import type { SiteConfig } from '../protocols/site.js';
import { hasSecretMarker, isSecretRef, replaceSecretMarkers, secretMarkers } from '../protocols/secrets.js';
import type { Redactor } from '../redact.js';
import { FettleError, isFettleError } from '../errors.js';

// Secrets in item attributes: found (the taint), resolved for one host, registered for redaction.

/** A secret's value as an attribute holds it: text when it is UTF-8, else the bytes. */
export type SecretValue = string | Buffer;

/** Secret bytes as text when they are valid UTF-8 (they round-trip exactly), else undefined. */
function asText(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/**
 * Replace SecretRefs (whole values) and secret markers (inside strings) anywhere in
 * attributes by their values, registering them for redaction.
 */
export async function resolveSecrets(value: unknown, resolve: (name: string) => Promise<SecretValue>): Promise<unknown> {
  if (isSecretRef(value)) return resolve(value.name);
  if (typeof value === 'string') {
    const names = secretMarkers(value);
    if (names.length === 0) return value;
    const values = new Map<string, string>();
    for (const name of names) {
      const resolved = await resolve(name);
      if (typeof resolved !== 'string') {
        throw new FettleError('E_SECRET', `secret '${name}' is binary (not UTF-8) and cannot be put inside a string`, {
          expected: `secret('${name}') as a whole attribute value (file content takes bytes)`,
        });
      }
      values.set(name, resolved);
    }
    return replaceSecretMarkers(value, (name) => values.get(name) ?? '');
  }
  if (Array.isArray(value)) return Promise.all(value.map((entry) => resolveSecrets(entry, resolve)));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = await Promise.all(
      Object.entries(value).map(async ([key, entry]) => [key, await resolveSecrets(entry, resolve)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

/** The same error with the item's place in front of the store's. */
export function withPlace(error: unknown, where: string): unknown {
  if (!isFettleError(error)) return error;
  return new FettleError(error.code, error.message, { where: where + (error.where && !where.includes(error.where) ? ` (${error.where})` : ''), expected: error.expected, hint: error.hint, cause: error });
}

/** Whether a value holds a SecretRef or a secret marker anywhere: the taint that follows values. */
export function containsSecret(value: unknown): boolean {
  if (typeof value === 'string') return hasSecretMarker(value);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
  if (isSecretRef(value)) return true;
  // Loops, not Object.values(): every item of every host passes here, and most hold no secret.
  if (Array.isArray(value)) {
    for (const entry of value) if (containsSecret(entry)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) if (Object.hasOwn(record, key) && containsSecret(record[key])) return true;
  return false;
}

/**
 * Decrypt a secret for one host (the store may refuse a host that may not read it)
 * and register its value for redaction before anyone can print it: as text when it
 * is UTF-8, else as bytes.
 */
export function secretValueResolver(host: Host, site: SiteConfig, redactor: Redactor): (name: string) => Promise<SecretValue> {
  return async (name) => {
    const store = site.secrets;
    if (!store) {
      throw new FettleError('E_REFERENCE', `secret '${name}' is used but the site has no secret store`, {
        where: `host ${host.name}`,
        hint: 'set `secrets:` in fettle.config.ts',
      });
    }
    let value: SecretValue;
    try {
      if (store.getBytes) {
        const bytes = Buffer.from(await store.getBytes(name, host.name));
        value = asText(bytes) ?? bytes;
      } else value = await store.get(name, host.name);
    } catch (error) {
      if (isFettleError(error) && error.isInputError) throw error;
      // A name that is not in the store is a typo in the site: bad input, not a failure.
      const known = await store.list().catch(() => undefined);
      if (known && !known.includes(name)) {
        throw new FettleError('E_REFERENCE', isFettleError(error) ? error.message : `secret '${name}' does not exist in ${store.describe}`, {
          where: `host ${host.name}`,
          expected: known.length > 0 ? `one of ${known.join(', ')}` : 'a secret set with `fettle secret set NAME`',
        });
      }
      throw error;
    }
    redactor.add(name, value);
    return value;
  };
}

/** Like secretValueResolver, for item code that wants text (`ItemContext.secret`). */
export function secretResolver(host: Host, site: SiteConfig, redactor: Redactor): (name: string) => Promise<string> {
  const resolve = secretValueResolver(host, site, redactor);
  return async (name) => {
    const value = await resolve(name);
    return typeof value === 'string' ? value : value.toString('utf8');
  };
}
