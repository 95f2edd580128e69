import { arg, defineFact, sh } from '@fettle/core';

/** A user as the host's account databases describe it. */
export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Name of the primary group; null when no group has that gid. */
  readonly groupName: string | null;
  readonly fullName: string;
  readonly home: string;
  readonly shell: string;
  /** The shadow password field; null when the shadow database could not be read. */
  readonly passwordHash: string | null;
  /** Supplementary groups: the groups whose member list names the user, sorted. */
  readonly groups: readonly string[];
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** Both namespaces for one name: a user and a group may share it (a user's own group). */
export interface Accounts {
  readonly user: UserEntry | null;
  readonly group: GroupEntry | null;
}

/** A POSIX-ish account name as useradd accepts it (Debian's default NAME_REGEX, relaxed for dots). */
export const ACCOUNT_NAME = /^[a-z_][a-z0-9_.-]{0,30}\$?$/;

const SECTIONS = ['passwd', 'shadow', 'group'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * Users and groups of any number of names in one command: `getent passwd` and
 * `getent shadow` for the names, and the whole group database (supplementary groups
 * are the groups that list a user, so every group must be read). getent exits 2 when
 * a key is missing: a normal answer; anything above 2 is an error.
 */
export const accounts = defineFact<string, Accounts>({
  name: 'users.accounts',
  key: (name) => name,
  command(names) {
    for (const name of names) if (!ACCOUNT_NAME.test(name)) throw new Error(`users.accounts: not an account name: ${JSON.stringify(name)}`);
    return sh`set -- ${names.map((name) => arg(name))}
echo @passwd; getent passwd "$@"; [ $? -le 2 ] || exit 3
echo @shadow; getent shadow "$@"; [ $? -le 2 ] || exit 3
echo @group; getent group; [ $? -le 2 ] || exit 3
exit 0`;
  },
  parse(stdout, names) {
    const lines: Record<Section, string[][]> = { passwd: [], shadow: [], group: [] };
    let section: Section | undefined;
    for (const line of stdout.split('\n')) {
      const marker = SECTIONS.find((name) => line === `@${name}`);
      if (marker) section = marker;
      else if (line !== '' && section) lines[section].push(line.split(':'));
      else if (line !== '') throw new Error(`users.accounts: unexpected output ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (section !== 'group') throw new Error('users.accounts: truncated output');
    const groups = lines.group.map(([name = '', , gid = '', members = '']) => ({ name, gid: Number(gid), members: members === '' ? [] : members.split(',') }));
    const shadow = new Map(lines.shadow.map(([name = '', hash = '']) => [name, hash]));
    const users = new Map(
      lines.passwd.map(([name = '', , uid = '', gid = '', fullName = '', home = '', shell = '']): [string, UserEntry] => [
        name,
        {
          name,
          uid: Number(uid),
          gid: Number(gid),
          groupName: groups.find((group) => group.gid === Number(gid))?.name ?? null,
          fullName,
          home,
          shell,
          passwordHash: shadow.get(name) ?? null,
          groups: groups.filter((group) => group.members.includes(name)).map((group) => group.name).sort(),
        },
      ]),
    );
    return names.map((name) => ({ user: users.get(name) ?? null, group: groups.find((group) => group.name === name) ?? null }));
  },
});
