import { arg, defineItemType, joinShell, sh, z, type Change, type ItemContext, type ItemInstance, type Shell } from '@fettle/core';
import { accounts, type UserEntry } from './facts.js';
import { displayAccountValue, fingerprint, validateAccountName } from './common.js';

const attributes = z.strictObject({
  uid: z.number().int().min(0).optional(),
  /** Primary group, by gid or by name. */
  gid: z.union([z.number().int().min(0), z.string().min(1)]).optional(),
  /** Supplementary groups, exactly (the user is removed from groups not listed). */
  groups: z.array(z.string().min(1)).optional(),
  home: z.string().startsWith('/').optional(),
  shell: z.string().min(1).optional(),
  /** The GECOS field. */
  full_name: z.string().regex(/^[^:\n]*$/, 'no colons or newlines').optional(),
  /** A crypt(3) hash (`$6$…`, `$y$…`), e.g. from a secret; compared by its sha256. */
  password_hash: z.string().min(1).regex(/^[^:\n]*$/, 'no colons or newlines').optional(),
  /** Make sure the user does not exist (`userdel`; the home folder stays). */
  delete: z.boolean().default(false),
});

export type UserAttributes = z.output<typeof attributes>;

function sortedGroups(groups: readonly string[]): string[] {
  return [...new Set(groups)].sort();
}

/** The state of an existing user, in the terms the attributes use (gid by name when given by name). */
function userState(user: UserEntry, attrs: UserAttributes): Record<string, unknown> {
  return {
    uid: user.uid,
    gid: typeof attrs.gid === 'string' ? user.groupName : user.gid,
    groups: [...user.groups],
    home: user.home,
    shell: user.shell,
    full_name: user.fullName,
    password_hash: user.passwordHash === null ? null : fingerprint(user.passwordHash),
  };
}

/** useradd/usermod options for the given keys. */
function options(attrs: UserAttributes, keys: readonly string[]): Shell[] {
  const args: Shell[] = [];
  const has = (key: keyof UserAttributes) => keys.includes(key) && attrs[key] !== undefined;
  if (has('uid')) args.push(sh`-u ${attrs.uid ?? 0}`);
  if (has('gid')) args.push(sh`-g ${arg(attrs.gid ?? '')}`);
  if (has('groups')) args.push(sh`-G ${arg(sortedGroups(attrs.groups ?? []).join(','))}`);
  // The home and shell as the account database records them (paths of the host's own root): not mapped.
  if (has('home')) args.push(sh`-d ${arg(attrs.home ?? '')}`);
  if (has('shell')) args.push(sh`-s ${arg(attrs.shell ?? '')}`);
  if (has('full_name')) args.push(sh`-c ${arg(attrs.full_name ?? '')}`);
  return args;
}

async function fixUser(change: Change, item: ItemInstance<UserAttributes>, context: ItemContext): Promise<void> {
  const name = arg(item.name);
  if (change.cdict === null) {
    await context.runChecked(sh`userdel ${name}`);
    return;
  }
  const attrs = item.attrs;
  const keys = change.sdict === null ? Object.keys(change.cdict) : change.keys;
  const commands: Shell[] = [];
  if (change.sdict === null) {
    // With USERGROUPS_ENAB, useradd makes a group named after the user and fails
    // if one exists already: join that group instead.
    const ownGroup = attrs.gid === undefined ? [sh`$(getent group ${name} >/dev/null && printf '%s' ${arg(`-g ${item.name}`)})`] : [];
    commands.push(sh`useradd -m ${[...options(attrs, keys), ...ownGroup, name]}`);
  } else {
    const args = options(attrs, keys);
    if (args.length > 0) commands.push(sh`usermod ${[...args, name]}`);
  }
  // Through stdin, so the hash never shows in a process list.
  const password = keys.includes('password_hash') && attrs.password_hash !== undefined;
  if (password) commands.push(sh`chpasswd -e`);
  if (commands.length === 0) return;
  await context.runChecked(joinShell(commands, ' && '), password ? { stdin: `${item.name}:${attrs.password_hash}\n` } : undefined);
}

/** A local user account: created with useradd, changed with usermod, removed with userdel. */
export const userItem = defineItemType({
  name: 'user',
  description: 'a local user account (useradd, usermod, userdel)',
  attributes,
  validateName: validateAccountName,
  // The groups it names come first; a user without a gid joins (or gets) a group of its own name.
  implicitNeeds(item) {
    if (item.attrs.delete) return [];
    const groups = [...(item.attrs.groups ?? [])];
    if (typeof item.attrs.gid === 'string') groups.push(item.attrs.gid);
    if (item.attrs.gid === undefined) groups.push(item.name);
    return groups.map((group) => `group:${group}`);
  },

  cdict(item) {
    const attrs = item.attrs;
    if (attrs.delete) return null;
    const state: Record<string, unknown> = {};
    if (attrs.uid !== undefined) state['uid'] = attrs.uid;
    if (attrs.gid !== undefined) state['gid'] = attrs.gid;
    if (attrs.groups !== undefined) state['groups'] = sortedGroups(attrs.groups);
    if (attrs.home !== undefined) state['home'] = attrs.home;
    if (attrs.shell !== undefined) state['shell'] = attrs.shell;
    if (attrs.full_name !== undefined) state['full_name'] = attrs.full_name;
    if (attrs.password_hash !== undefined) state['password_hash'] = fingerprint(attrs.password_hash);
    return state;
  },

  async sdict(item, context) {
    const { user } = await context.fact(accounts, item.name);
    return user === null ? null : userState(user, item.attrs);
  },

  fix: fixUser,
  displayValue: displayAccountValue,
});
