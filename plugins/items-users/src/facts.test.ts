import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { factEnv } from '@fettle/core';
import { accounts, userItem } from './index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const env = factEnv();
const HASH = '$6$fettlesalt$MRpsu15t3egJ4Wb1Liffvwg3ZKwhXT19PUK3bVqX9Ltlmy4GWRIyZT2STlNDKV/3qD7e8FrmAPqNQj9WVfiAe0';

describe('users.accounts fact', () => {
  it('reads passwd and shadow of the names and the whole group database in one command', () => {
    const command = accounts.command(['alice', 'www-data'], env).text;
    expect(command).toContain('set -- alice www-data');
    expect(command).toContain('getent passwd "$@"');
    expect(command).toContain('getent shadow "$@"');
    expect(command).toContain('getent group;');
  });

  it('refuses names that are not account names', () => {
    expect(() => accounts.command(['Alice'], env)).toThrow(/not an account name/);
    expect(() => accounts.command(['a;rm -rf /'], env)).toThrow(/not an account name/);
  });

  it('parses recorded getent output', () => {
    const [user, group, nobody, missing] = accounts.parse(fixture('getent-debian12.txt'), ['fettlefixture', 'fettlefixgrp', 'nobody', 'fettlenosuch'], env);
    expect(user).toEqual({
      user: {
        name: 'fettlefixture',
        uid: 64991,
        gid: 64990,
        groupName: 'fettlefixgrp',
        fullName: 'Fixture User',
        home: '/home/fettlefixture',
        shell: '/bin/sh',
        passwordHash: HASH,
        groups: ['fettlefixgrp'],
      },
      group: null,
    });
    expect(group).toEqual({ user: null, group: { name: 'fettlefixgrp', gid: 64990, members: ['fettlefixture'] } });
    expect(nobody?.user).toMatchObject({ uid: 65534, groupName: 'nogroup', passwordHash: '*', shell: '/usr/sbin/nologin' });
    expect(missing).toEqual({ user: null, group: null });
  });

  it('throws on truncated output instead of calling every account absent', () => {
    expect(() => accounts.parse('@passwd\n', ['root'], env)).toThrow(/truncated/);
  });
});

describe('user statedict', () => {
  it('holds a sha256 of the password hash, never the hash', async () => {
    const attrs = userItem.attributes.parse({ password_hash: HASH, groups: ['b', 'a', 'b'] });
    const cdict = await userItem.cdict({ id: 'user:x', name: 'x', attrs }, {} as never);
    expect(JSON.stringify(cdict)).not.toContain(HASH);
    expect(cdict).toEqual({ groups: ['a', 'b'], password_hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    expect(userItem.displayValue?.('password_hash', cdict?.['password_hash'])).toMatch(/^<hash sha256:[0-9a-f]{12}…>$/);
  });
});
