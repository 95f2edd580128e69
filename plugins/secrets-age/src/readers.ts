import { parseOrThrow, z, type SecretReaders } from '@fettle/core';
import { atomicWrite, readTextIfExists } from './atomic.js';
import { messageOf, secretError } from './problem.js';

const READERS_SHAPE = '{ "hosts": [host names], "groups": [group names] }';

const readersSchema = z.strictObject({
  hosts: z.array(z.string().min(1)).default([]),
  groups: z.array(z.string().min(1)).default([]),
});

/** Readers of a secret as stored: host names and group names. */
export interface StoredReaders {
  readonly hosts: readonly string[];
  readonly groups: readonly string[];
}

export const NO_READERS: StoredReaders = { hosts: [], groups: [] };

/** Sorted and without duplicates, so the JSON file diffs cleanly in git. */
export function normalizeReaders(readers: SecretReaders | undefined): StoredReaders {
  return {
    hosts: [...new Set(readers?.hosts ?? [])].sort(),
    groups: [...new Set(readers?.groups ?? [])].sort(),
  };
}

/** `secrets/<name>.readers.json`; a missing file means "the controller only". */
export async function readReaders(file: string): Promise<StoredReaders | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw secretError(`invalid JSON: ${messageOf(error)}`, { where: file, expected: READERS_SHAPE });
  }
  return parseOrThrow(readersSchema, value, 'E_SECRET', file);
}

export async function writeReaders(file: string, readers: StoredReaders): Promise<void> {
  await atomicWrite(file, `${JSON.stringify({ hosts: readers.hosts, groups: readers.groups }, null, 2)}\n`, 0o644);
}

/** Members of a group, or undefined when there is no such group. */
export type GroupResolver = (group: string) => readonly string[] | undefined | Promise<readonly string[] | undefined>;

/** The hosts a readers file names, its groups resolved; sorted. */
export async function readerHosts(readers: StoredReaders, groups: GroupResolver | undefined, where: string): Promise<string[]> {
  const hosts = new Set(readers.hosts);
  for (const group of readers.groups) {
    if (!groups) {
      throw secretError(`reader group '${group}' cannot be resolved: the age store has no group resolver`, {
        where,
        expected: 'host names only, or a `groups` option on the age store',
        hint: 'pass `groups: groupsOf(hosts)` to ageSecretStore()',
      });
    }
    const members = await groups(group);
    if (members === undefined) throw secretError(`unknown reader group '${group}'`, { where, expected: 'a group of the host store' });
    for (const member of members) hosts.add(member);
  }
  return [...hosts].sort();
}
