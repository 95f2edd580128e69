import path from 'node:path';
import { arg, joinShell, sh, z, type ItemContext, type Shell } from '@fettle/core';
import { nonEmptyText } from './quick-parse.js';

/** Octal mode as a string, normalised to four digits. */
export const modeSchema = z
  .string()
  .regex(/^[0-7]{3,4}$/, 'expected an octal mode string such as "0644"')
  .transform((mode) => mode.padStart(4, '0'));

/** Item names are absolute, normalised paths. */
export function validatePath(name: string): string | undefined {
  if (!name.startsWith('/')) return 'expected an absolute path';
  // Checked without building the normalised path, which only the message needs.
  if (name !== '/' && (name.endsWith('/') || NOT_NORMAL.test(name))) return `expected a normalised path such as ${path.posix.normalize(name).replace(/(.)\/$/, '$1')}`;
  return undefined;
}
/** What path.posix.normalize changes in an absolute path: an empty, `.` or `..` segment. */
const NOT_NORMAL = /\/\/|\/\.\.?(\/|$)/;

/**
 * Every ancestor folder as directory and symlink item ids: an item needs whichever
 * exist. The files of one folder share one list (a thousand hosts of a hundred
 * files each ask for the same few): do not change it.
 */
export function parentItems(name: string): string[] {
  const dir = path.posix.dirname(name);
  let ids = ancestors.get(dir);
  if (!ids) {
    ids = [];
    for (let current = dir; current !== '/' && current !== '.'; current = path.posix.dirname(current)) ids.push(`directory:${current}`, `symlink:${current}`);
    if (ancestors.size >= 4096) ancestors.clear();
    ancestors.set(dir, ids);
  }
  return ids;
}
const ancestors = new Map<string, string[]>();

/** `owner:group` for chown, as one argument; undefined when neither is managed. */
export function ownerSpec(wanted: { owner?: string | undefined; group?: string | undefined }): Shell | undefined {
  if (wanted.owner === undefined && wanted.group === undefined) return undefined;
  return arg(`${wanted.owner ?? ''}${wanted.group !== undefined ? `:${wanted.group}` : ''}`);
}

/** Set mode and ownership of an existing path in one command (after `before`, such as the mkdir that makes it). */
export async function applyOwnership(
  context: ItemContext,
  name: string,
  keys: readonly string[],
  wanted: { mode?: string | undefined; owner?: string | undefined; group?: string | undefined },
  noDereference = false,
  before: readonly Shell[] = [],
): Promise<void> {
  const real = context.hostPath(name);
  const commands: Shell[] = [...before];
  if (keys.includes('mode') && wanted.mode !== undefined) commands.push(sh`chmod ${arg(wanted.mode)} ${real}`);
  const spec = ownerSpec(wanted);
  if ((keys.includes('owner') || keys.includes('group')) && spec !== undefined) commands.push(noDereference ? sh`chown -h ${spec} ${real}` : sh`chown ${spec} ${real}`);
  if (commands.length > 0) await context.runChecked(joinShell(commands, ' && '));
}

export const ownershipAttributes = {
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
};
/** ownershipAttributes for a quickParse (quick-parse.ts). */
export const quickOwnership = { owner: nonEmptyText, group: nonEmptyText };

/** The ownership keys an item manages (unset owner/group are left alone). */
export function ownershipState(attrs: { owner?: string | undefined; group?: string | undefined }): Record<string, string> {
  const state: Record<string, string> = {};
  addOwnership(state, attrs);
  return state;
}

/** The same keys written into a state being built (no object made to be spread). */
export function addOwnership(state: Record<string, unknown>, attrs: { owner?: string | undefined; group?: string | undefined }): void {
  if (attrs.owner !== undefined) state['owner'] = attrs.owner;
  if (attrs.group !== undefined) state['group'] = attrs.group;
}
