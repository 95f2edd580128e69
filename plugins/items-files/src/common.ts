import path from 'node:path';
import { arg, joinShell, sh, z, type ItemContext, type Shell } from '@fettle/core';

/** Octal mode as a string, normalised to four digits. */
export const modeSchema = z
  .string()
  .regex(/^[0-7]{3,4}$/, 'expected an octal mode string such as "0644"')
  .transform((mode) => mode.padStart(4, '0'));

/** Item names are absolute, normalised paths. */
export function validatePath(name: string): string | undefined {
  if (!name.startsWith('/')) return 'expected an absolute path';
  if (name !== '/' && (name.endsWith('/') || path.posix.normalize(name) !== name)) return `expected a normalised path such as ${path.posix.normalize(name).replace(/(.)\/$/, '$1')}`;
  return undefined;
}

/** Every ancestor folder as directory and symlink item ids: an item needs whichever exist. */
export function parentItems(name: string): string[] {
  const ids: string[] = [];
  let current = path.posix.dirname(name);
  while (current !== '/' && current !== '.') {
    ids.push(`directory:${current}`, `symlink:${current}`);
    current = path.posix.dirname(current);
  }
  return ids;
}

/** `owner:group` for chown, as one argument; undefined when neither is managed. */
export function ownerSpec(wanted: { owner?: string | undefined; group?: string | undefined }): Shell | undefined {
  if (wanted.owner === undefined && wanted.group === undefined) return undefined;
  return arg(`${wanted.owner ?? ''}${wanted.group !== undefined ? `:${wanted.group}` : ''}`);
}

/** Set mode and ownership of an existing path in one command. */
export async function applyOwnership(
  context: ItemContext,
  name: string,
  keys: readonly string[],
  wanted: { mode?: string | undefined; owner?: string | undefined; group?: string | undefined },
  noDereference = false,
): Promise<void> {
  const real = context.hostPath(name);
  const commands: Shell[] = [];
  if (keys.includes('mode') && wanted.mode !== undefined) commands.push(sh`chmod ${arg(wanted.mode)} ${real}`);
  const spec = ownerSpec(wanted);
  if ((keys.includes('owner') || keys.includes('group')) && spec !== undefined) commands.push(noDereference ? sh`chown -h ${spec} ${real}` : sh`chown ${spec} ${real}`);
  if (commands.length > 0) await context.runChecked(joinShell(commands, ' && '));
}

export const ownershipAttributes = {
  owner: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
};

/** The ownership keys an item manages (unset owner/group are left alone). */
export function ownershipState(attrs: { owner?: string | undefined; group?: string | undefined }): Record<string, string> {
  const state: Record<string, string> = {};
  if (attrs.owner !== undefined) state['owner'] = attrs.owner;
  if (attrs.group !== undefined) state['group'] = attrs.group;
  return state;
}
