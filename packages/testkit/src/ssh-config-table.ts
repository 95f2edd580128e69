import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import os from 'node:os';

/**
 * A table of ssh_config files and the names looked up in each, for tests that hold an
 * ssh_config reader to `ssh -G`: Host patterns with `*`, `?`, `!`; Match
 * host/user/originalhost with negation; Include at top level and inside a Host block,
 * relative and absolute, with globs; ProxyJump chains; tokens; quoting; `=`-style and
 * lowercase keywords. Relative Includes resolve under ~/.ssh, as OpenSSH's do, so setup
 * writes a uniquely named folder there and cleanup removes it.
 */

/** A name to look up, and the -l / -p / -J that go with it. */
export interface SshLookup {
  readonly host: string;
  readonly user?: string | undefined;
  readonly port?: number | undefined;
  readonly proxyJump?: string | undefined;
}

export interface TableCase {
  readonly config: string;
  readonly aliases: readonly (string | SshLookup)[];
}

export interface SshConfigTable {
  readonly dir: string;
  /** Config name → its file and aliases. */
  readonly cases: Readonly<Record<string, TableCase & { readonly file: string }>>;
  cleanup(): Promise<void>;
}

export const asRequest = (alias: string | SshLookup): SshLookup => (typeof alias === 'string' ? { host: alias } : alias);

function table(abs: string, REL: string): Record<string, TableCase> {
  return {
    patterns: {
      config: [
        '# star, question mark, negation; first value obtained wins; Host * last',
        'Host web? !web9',
        '  HostName %h.example.com',
        '  Port 2201',
        'Host db-*',
        '  User dbadmin',
        '  IdentityFile ~/.ssh/db_%h_%r',
        '  IdentityFile "/keys/with space/%n-%p"',
        '  IdentityFile ~/.ssh/db_%h_%r',
        'Host *.prod *.stage',
        '  UserKnownHostsFile ~/.ssh/known_%h "/tmp/kh dir/known_%n"',
        '  StrictHostKeyChecking accept-new',
        '  HostKeyAlias Fleet-Alias',
        'Host web1,web2',
        '  Port 1',
        'Host UPPER',
        '  User upper',
        '  HostName Mixed.Case.%h',
        'Host pct',
        '  HostName 100%%.%h',
        'Host *',
        '  User fallback',
        '  ConnectTimeout 7',
        '  ServerAliveInterval 20',
        '  IdentityFile ~/.ssh/fallback_%u_%d_%L_%C_%i',
      ].join('\n'),
      aliases: ['web1', 'web9', 'web12', 'web', 'db-1', 'x.prod', 'y.stage', 'UPPER', 'upper', 'Web1', 'pct', 'other', { host: 'web3', user: 'me', port: 9 }],
    },
    match: {
      config: [
        'Match host *.corp,!bad.corp user deploy',
        '  Port 2022',
        'match originalhost=alias-* !host=*.skip',
        '  IdentitiesOnly yes',
        '  IdentityFile /k/%h',
        'Host alias-one',
        '  HostName one.corp',
        'Host alias-two',
        '  HostName two.skip',
        'Match host one.corp',
        '  ConnectTimeout 3',
        'Match User root,admin',
        '  ServerAliveCountMax 9',
        'Match !user root',
        '  StrictHostKeyChecking no',
        'MATCH Host "Z*"',
        '  HostKeyAlgorithms +ssh-rsa',
        'Match localuser root originalhost ALIAS-ONE',
        '  HashKnownHosts yes',
        'Match all',
        '  HostKeyAlgorithms -*-cert-v01@openssh.com,ssh-rsa*',
      ].join('\n'),
      aliases: [
        { host: 'a.corp', user: 'deploy' },
        { host: 'bad.corp', user: 'deploy' },
        { host: 'a.corp', user: 'other' },
        'alias-one',
        'ALIAS-ONE',
        'alias-two',
        { host: 'alias-one', user: 'deploy' },
        { host: 'x', user: 'admin' },
        'zed',
        'Zed',
      ],
    },
    includes: {
      config: [
        `Include ${abs}/inc.d/*.conf`,
        'Host inner',
        `  Include ${REL}/rel.conf`,
        '  Port 2300',
        'Host after',
        '  HostName after.example',
        'Host *',
        `  Include ${abs}/tail?.conf ${abs}/missing-*.conf`,
      ].join('\n'),
      aliases: ['from-a', 'from-b', 'inner', 'other', 'after', 'zzz'],
    },
    style: {
      config: [
        'host=eq',
        '  hostname=eq.example',
        '  PORT = 2222',
        '  user   =  "eq user"',
        "  identityfile='/path with/spaces'",
        '  StrictHostKeyChecking=no',
        '  HostKeyAlgorithms=-ssh-rsa*,*cert*',
        'Host sk',
        '  strictHostKeyChecking yes # a comment',
        '  identityAgent ~/agent/%h',
        '  certificateFile ~/.ssh/%h-cert.pub',
        '  certificateFile ~/.ssh/%h-cert.pub',
        '  ProxyCommand nc %h %p',
        '  ProxyJump ignored',
        'Host agent2',
        '  IdentityAgent SSH_AUTH_SOCK',
        '  GlobalKnownHostsFile /etc/g1 /etc/g2',
        '  UserKnownHostsFile none',
        '  HashKnownHosts yes',
        '  HostKeyAlgorithms ^ssh-ed25519,rsa-sha2-512',
        '  IdentityFile none',
        'Host tabs',
        '\tHostName\ttabbed.example',
        '\tIdentityAgent ${HOME}/sock-%r',
        '\tConnectTimeout\t0',
      ].join('\n'),
      aliases: ['eq', 'sk', 'agent2', 'tabs'],
    },
    jumps: {
      config: [
        'Host target',
        '  ProxyJump hop2',
        'Host hop2',
        '  ProxyJump jumper@hop1:2201',
        '  HostName 10.0.0.2',
        'Host hop1',
        '  ProxyJump gw',
        '  User notused',
        'Host three',
        '  ProxyJump a,b@b:2,c',
        'Host c',
        '  ProxyJump not-followed',
        'Host a',
        '  ProxyJump not-followed-either',
        'Host none',
        '  ProxyJump none',
        '  ProxyCommand nc %h %p',
      ].join('\n'),
      aliases: ['target', 'hop2', 'three', 'c', 'none', { host: 'target', proxyJump: 'x@y:3' }, { host: 'target', proxyJump: 'none' }],
    },
  };
}

/** Write every config of the table (and the files they include); remove them with cleanup(). */
export async function setupSshConfigTable(): Promise<SshConfigTable> {
  const sshDir = path.join(os.userInfo().homedir, '.ssh');
  const rel = `fettle-test-${randomBytes(6).toString('hex')}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-table-'));
  const createdSshDir = !existsSync(sshDir);
  await mkdir(path.join(sshDir, rel), { recursive: true, mode: 0o700 });
  await writeFile(path.join(sshDir, rel, 'rel.conf'), 'User relative\nHost other\n  Port 9\n');
  await mkdir(path.join(dir, 'inc.d'));
  await writeFile(path.join(dir, 'inc.d', '10-a.conf'), 'Host from-a\n  HostName a.example\n');
  await writeFile(path.join(dir, 'inc.d', '20-b.conf'), 'Host from-b after\n  User bee\n  Port 2020\n');
  await writeFile(path.join(dir, 'inc.d', 'ignored.txt'), 'Host *\n  Port 1\n');
  await writeFile(path.join(dir, 'tail1.conf'), 'IdentityAgent none\nConnectTimeout 11\n');
  const cases: Record<string, TableCase & { file: string }> = {};
  for (const [name, entry] of Object.entries(table(dir, rel))) {
    const file = path.join(dir, `${name}.conf`);
    await writeFile(file, `${entry.config}\n`);
    cases[name] = { ...entry, file };
  }
  return {
    dir,
    cases,
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
      await rm(path.join(sshDir, rel), { recursive: true, force: true });
      if (createdSshDir) await rmdir(sshDir).catch(() => undefined);
    },
  };
}

/** The aliases of each config, known before setup (test names are made at collection time). */
export const TABLE_ALIASES: Readonly<Record<string, TableCase['aliases']>> = Object.fromEntries(Object.entries(table('/', 'rel')).map(([name, entry]) => [name, entry.aliases]));
