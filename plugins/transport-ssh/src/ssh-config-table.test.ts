import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveChain } from './settings.js';
import { resolveWithParser } from './ssh-config.js';
import { askSsh, configFiles } from './ssh-g.js';
import { formatSshValues, type ResolveRequest } from './ssh-values.js';
import { localIdentity } from './tokens.js';

/**
 * Table-driven: fettle's own ssh_config reader (the fallback where no `ssh` binary
 * exists) against `ssh -G` itself, on many configs and aliases. Every keyword fettle
 * uses must come out exactly as OpenSSH prints it.
 */

const SSH_DIR = path.join(localIdentity().home, '.ssh');
const REL = `fettle-test-${randomBytes(6).toString('hex')}`;
let dir: string;
let createdSshDir = false;

interface Case {
  readonly config: string;
  readonly aliases: readonly (string | ResolveRequest)[];
}

function table(abs: string): Record<string, Case> {
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

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fettle-ssh-table-'));
  createdSshDir = !existsSync(SSH_DIR);
  await mkdir(path.join(SSH_DIR, REL), { recursive: true, mode: 0o700 });
  await writeFile(path.join(SSH_DIR, REL, 'rel.conf'), 'User relative\nHost other\n  Port 9\n');
  await mkdir(path.join(dir, 'inc.d'));
  await writeFile(path.join(dir, 'inc.d', '10-a.conf'), 'Host from-a\n  HostName a.example\n');
  await writeFile(path.join(dir, 'inc.d', '20-b.conf'), 'Host from-b after\n  User bee\n  Port 2020\n');
  await writeFile(path.join(dir, 'inc.d', 'ignored.txt'), 'Host *\n  Port 1\n');
  await writeFile(path.join(dir, 'tail1.conf'), 'IdentityAgent none\nConnectTimeout 11\n');
  for (const [name, { config }] of Object.entries(table(dir))) await writeFile(path.join(dir, `${name}.conf`), `${config}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(path.join(SSH_DIR, REL), { recursive: true, force: true });
  if (createdSshDir) await rmdir(SSH_DIR).catch(() => undefined);
});

const label = (alias: string | ResolveRequest): string => (typeof alias === 'string' ? alias : JSON.stringify(alias));
const request = (alias: string | ResolveRequest): ResolveRequest => (typeof alias === 'string' ? { host: alias } : alias);

describe("fettle's ssh_config reader agrees with ssh -G", () => {
  for (const [name, { aliases }] of Object.entries(table('/'))) {
    describe(name, () => {
      it.each(aliases.map((alias) => [label(alias), alias] as const))('%s', async (_label, alias) => {
        const config = path.join(dir, `${name}.conf`);
        const [ours, theirs] = await Promise.all([resolveWithParser(request(alias), configFiles(config)), askSsh('ssh', request(alias), config)]);
        expect(formatSshValues(ours)).toEqual(formatSshValues(theirs));
      });
    });
  }

  it('with no config at all (ssh -F none): the defaults', async () => {
    const [ours, theirs] = await Promise.all([resolveWithParser({ host: 'Some.Host' }, configFiles(false)), askSsh('ssh', { host: 'Some.Host' }, false)]);
    expect(formatSshValues(ours)).toEqual(formatSshValues(theirs));
  });

  it('ProxyJump chains hop by hop: each hop resolved as ssh -J would, with the same result either way', async () => {
    const config = path.join(dir, 'jumps.conf');
    const parser = (req: ResolveRequest) => resolveWithParser(req, configFiles(config));
    const ssh = (req: ResolveRequest) => askSsh('ssh', req, config);
    const cases: [string, string[]][] = [
      // target → hop2 (own config: jumper@hop1:2201) → hop1 (own config: gw): four hops before the target.
      ['target', ['gw', 'hop1', 'hop2', 'target']],
      // a,b@b:2,c: c is reached with -J a,b, so c's own ProxyJump is not followed; a is the single first hop, so its own is.
      ['three', ['not-followed-either', 'a', 'b', 'c', 'three']],
    ];
    for (const [alias, hosts] of cases) {
      const [ours, theirs] = await Promise.all([resolveChain({ host: alias }, config, parser), resolveChain({ host: alias }, config, ssh)]);
      expect(ours.map((hop) => hop.request.host)).toEqual(hosts);
      expect(ours.map((hop) => hop.request)).toEqual(theirs.map((hop) => hop.request));
      expect(ours.map((hop) => formatSshValues(hop.values))).toEqual(theirs.map((hop) => formatSshValues(hop.values)));
    }
    const chain = await resolveChain({ host: 'target' }, config, ssh);
    expect(chain[1]?.request).toEqual({ host: 'hop1', user: 'jumper', port: 2201, proxyJump: undefined });
  });
});
