import { UnreachableError } from '@fettle/core';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import { appendKnownHost } from './known-hosts-file.js';
import { checkHostKey, entryMatches, fingerprint, keyTypeOfBlob, knownKeyTypes, type KnownHostEntry } from './known-hosts.js';
import type { Endpoint, HostKeyPolicy } from './settings.js';

export type { HostKeyPolicy } from './settings.js';

/** ssh2's host key algorithms (node 20 has ed25519), in its default order. */
const DEFAULT_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const ALGORITHMS_OF_TYPE: Readonly<Record<string, readonly string[]>> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] };

/**
 * Ask for the key types we already know first. A server with several host keys
 * otherwise offers ssh2's favourite, and a host recorded with `ssh-keyscan -t rsa`
 * would look "changed".
 */
export function hostKeyAlgorithms(entries: readonly KnownHostEntry[], name: string): ServerHostKeyAlgorithm[] {
  const known = new Set(knownKeyTypes(entries, name).flatMap((type) => ALGORITHMS_OF_TYPE[type] ?? [type]));
  // Like OpenSSH's order_hostkeyalgs: known types first, each group in the default order.
  return [...DEFAULT_ALGORITHMS.filter((algorithm) => known.has(algorithm)), ...DEFAULT_ALGORITHMS.filter((algorithm) => !known.has(algorithm))];
}

/**
 * The host key algorithms to ask ssh2 for, or undefined when that is its default
 * list in its default order (the usual case: an ed25519 key, or none known). ssh2
 * then offers its prebuilt KEXINIT instead of building one for every connection.
 */
export function offeredHostKeyAlgorithms(entries: readonly KnownHostEntry[], name: string, configured?: readonly string[]): ServerHostKeyAlgorithm[] | undefined {
  const wanted = configured ? ([...configured] as ServerHostKeyAlgorithm[]) : hostKeyAlgorithms(entries, name);
  const isDefault = wanted.length === DEFAULT_ALGORITHMS.length && wanted.every((algorithm, index) => algorithm === DEFAULT_ALGORITHMS[index]);
  return isDefault ? undefined : wanted;
}

interface VerifyInput {
  readonly key: Buffer;
  readonly entries: readonly KnownHostEntry[];
  readonly endpoint: Endpoint;
  readonly policy: HostKeyPolicy;
  readonly where: string;
  /** Like `where` without the host name, which the engine puts in front of warnings. */
  readonly warnWhere: string;
  readonly warn: (message: string) => void;
  /** Called once a key was recorded in a known_hosts file (the run's cached copy of it is stale). */
  readonly recorded?: ((file: string) => void) | undefined;
}

const describeKey = (key: Buffer): string => `${keyTypeOfBlob(key) ?? 'unknown-type'} ${fingerprint(key)}`;
const describeEntry = (entry: KnownHostEntry): string => `${describeKey(entry.key)} (${entry.file}:${entry.line})`;

/** Undefined when the key may be used; else the error that refuses the host before any command. */
export async function verifyHostKey(input: VerifyInput): Promise<UnreachableError | undefined> {
  const { key, entries, endpoint, policy, where } = input;
  const name = endpoint.hostKeyName;
  if (policy === 'off') {
    input.warn(`${input.warnWhere}: host key checking is OFF (hostKeyPolicy 'off'); accepted ${describeKey(key)} unchecked`);
    return undefined;
  }
  const verdict = checkHostKey(entries, name, key);
  if (verdict.kind === 'known') return undefined;
  if (verdict.kind === 'revoked') return new UnreachableError('host-key', `${where}: the host key ${describeEntry(verdict.entry)} is marked @revoked; refusing to connect`);
  if (verdict.kind === 'changed') return changed(where, name, key, verdict.expected);
  const file = endpoint.recordFile;
  const authority = entries.find((entry) => entry.marker === 'cert-authority' && entryMatches(entry, name.toLowerCase()));
  if (authority && (policy === 'strict' || !file)) {
    return new UnreachableError(
      'host-key',
      `${where}: known_hosts trusts a certificate authority for ${name} (@cert-authority, ${authority.file}:${authority.line}), but ssh2 cannot check host certificates: ` +
        `offered plain key ${describeKey(key)}, not found. Use transport 'openssh' (the system ssh) for this host, or add its plain host key`,
    );
  }
  if (policy === 'strict' || !file) {
    return new UnreachableError(
      'host-key',
      `${where}: the host key of ${name} is unknown: offered ${describeKey(key)}, not found in ${endpoint.knownHostsFiles.join(', ') || '(no known_hosts file)'}. ` +
        `Check the fingerprint with the host's owner, then add it (ssh-keyscan -p ${endpoint.port} ${endpoint.hostname} >> ${file ?? '~/.ssh/known_hosts'}) or set hostKeyPolicy: 'accept-new'`,
    );
  }
  const result = await appendKnownHost(file, name, key, { hash: endpoint.hashKnownHosts });
  if (result.kind === 'added') input.recorded?.(file);
  if (result.kind === 'changed') return changed(where, name, key, result.expected);
  if (result.kind === 'added') input.warn(`${input.warnWhere}: recorded new host key ${describeKey(key)} for ${name} in ${file}:${result.line}`);
  return undefined;
}

function changed(where: string, name: string, key: Buffer, expected: readonly KnownHostEntry[]): UnreachableError {
  const first = expected[0];
  const removal = first ? ` If the host was reinstalled, remove the old entry (ssh-keygen -R '${name}' -f ${first.file}) and connect again.` : '';
  return new UnreachableError(
    'host-key',
    `${where}: the host key of ${name} does NOT match known_hosts: offered ${describeKey(key)}, expected ${expected.map(describeEntry).join(' or ')}. ` +
      `Someone may be intercepting the connection; refusing to connect.${removal}`,
  );
}
