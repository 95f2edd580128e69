import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isUnreachableError, type Host } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryMatches, parseKnownHosts } from './known-hosts.js';
import { connectHost, testContext } from './test-support.js';

/**
 * Table-driven known_hosts tests. Which lines name a host: fettle's matcher against
 * `ssh-keygen -F` on a plain file and on the same file hashed by `ssh-keygen -H`.
 * What happens on connect: fettle's verdict against the real `ssh` client, both facing
 * the same sshd (an ed25519 and an ecdsa host key) with the same known_hosts.
 */

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'fettle-known-hosts-table-'));
const keygen = (name: string, type: string): string => {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  return file;
};
const publicKey = async (file: string): Promise<string> => (await readFile(`${file}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
const ecdsaHostKey = keygen('host_ecdsa', 'ecdsa');

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('known_hosts lines matching a name: fettle against ssh-keygen -F', () => {
  const names = [
    'plain.example',
    'PLAIN.example',
    'mixedcase.example',
    'MixedCase.Example',
    '[ported.example]:2222',
    'ported.example',
    '[PORTED.example]:2222',
    'a.wild.example',
    'bad.wild.example',
    'x.y.wild.example',
    'q1.example',
    'q12.example',
    'revoked.example',
    'x.ca.example',
    'multi.example',
    'absent.example',
  ];
  let plainFile: string;
  let hashedFile: string;

  beforeAll(async () => {
    const ed = await publicKey(keygen('k_ed', 'ed25519'));
    const ec = await publicKey(keygen('k_ec', 'ecdsa'));
    const rsa = await publicKey(keygen('k_rsa', 'rsa'));
    const lines = [
      '# several forms, several key types',
      `plain.example ${ed}`,
      `MixedCase.Example ${ed}`,
      `[ported.example]:2222,alias.example ${ec}`,
      `*.wild.example,!bad.wild.example ${ec}`,
      `q?.example ${rsa}`,
      `@revoked revoked.example ${ed}`,
      `@cert-authority *.ca.example ${ec}`,
      `multi.example ${ed}`,
      `multi.example ${ec}`,
      `multi.example ${rsa}`,
    ];
    plainFile = path.join(dir, 'known_hosts.plain');
    hashedFile = path.join(dir, 'known_hosts.hashed');
    await writeFile(plainFile, `${lines.join('\n')}\n`);
    await writeFile(hashedFile, `${lines.join('\n')}\n`);
    await run('ssh-keygen', ['-H', '-f', hashedFile]);
    expect(await readFile(hashedFile, 'utf8')).toMatch(/^\|1\|/m);
  });

  const found = async (file: string, name: string): Promise<number[]> => {
    const { stdout } = await run('ssh-keygen', ['-F', name, '-f', file]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    return [...stdout.matchAll(/found: line (\d+)/g)].map((match) => Number(match[1]));
  };
  const ours = async (file: string, name: string): Promise<number[]> =>
    parseKnownHosts(await readFile(file, 'utf8'), file)
      .entries.filter((entry) => entryMatches(entry, name))
      .map((entry) => entry.line);

  for (const kind of ['plain', 'hashed'] as const) {
    it.each(names)(`${kind}: %s`, async (name) => {
      const file = kind === 'plain' ? plainFile : hashedFile;
      expect(await ours(file, name)).toEqual(await found(file, name));
    });
  }
});

describe('connect verdicts: fettle against the ssh client', () => {
  const sshd = sshdForTests({ hosts: ['node1'], extraConfig: `HostKey ${ecdsaHostKey}` });
  beforeAll(sshd.start);
  afterAll(sshd.stop);

  type Verdict = 'ok' | 'unknown' | 'changed' | 'revoked';
  interface Case {
    readonly name: string;
    readonly lines: (kit: { port: number; ed: string; ec: string; other: Record<string, string> }) => string[];
    readonly alias?: string;
    readonly hash?: boolean;
    readonly strict?: 'yes' | 'accept-new';
    readonly expected: Verdict;
  }

  const cases: Case[] = [
    { name: 'plain [host]:port', lines: (k) => [`[127.0.0.1]:${k.port} ${k.ed}`], expected: 'ok' },
    { name: 'hashed [host]:port', lines: (k) => [`[127.0.0.1]:${k.port} ${k.ed}`], hash: true, expected: 'ok' },
    { name: 'HostKeyAlias in mixed case, plain entry', alias: 'Fleet-Node', lines: (k) => [`FLEET-node ${k.ed}`], expected: 'ok' },
    { name: 'HostKeyAlias in mixed case, hashed entry', alias: 'Fleet-Node', lines: (k) => [`Fleet-Node ${k.ed}`], hash: true, expected: 'ok' },
    { name: 'wildcard', lines: (k) => [`[127.0.0.*]:${k.port} ${k.ed}`], expected: 'ok' },
    { name: 'wildcard with negation', lines: (k) => [`[127.0.0.*]:${k.port},![127.0.0.1]:${k.port} ${k.ed}`], expected: 'unknown' },
    { name: 'changed key', lines: (k) => [`[127.0.0.1]:${k.port} ${k.other['ed'] ?? ''}`], expected: 'changed' },
    { name: '@revoked', lines: (k) => [`[127.0.0.1]:${k.port} ${k.ed}`, `@revoked * ${k.ed}`], expected: 'revoked' },
    { name: '@cert-authority only (plain host key offered)', lines: (k) => [`@cert-authority [127.0.0.1]:${k.port} ${k.other['ca'] ?? ''}`], expected: 'unknown' },
    { name: 'known only as ecdsa (several key types)', lines: (k) => [`[127.0.0.1]:${k.port} ${k.ec}`], expected: 'ok' },
    // OpenSSH 9 calls a host known only under another key type "changed", under accept-new too.
    { name: 'known only under a type the server lacks, strict', lines: (k) => [`[127.0.0.1]:${k.port} ${k.other['rsa'] ?? ''}`], expected: 'changed' },
    { name: 'known only under a type the server lacks, accept-new', lines: (k) => [`[127.0.0.1]:${k.port} ${k.other['rsa'] ?? ''}`], strict: 'accept-new', expected: 'changed' },
    { name: 'unknown host, accept-new', lines: () => [], strict: 'accept-new', expected: 'ok' },
    { name: 'ecdsa key changed while ed25519 is right', lines: (k) => [`[127.0.0.1]:${k.port} ${k.other['ec'] ?? ''}`, `[127.0.0.1]:${k.port} ${k.ed}`], expected: 'ok' },
  ];

  let keys: { port: number; ed: string; ec: string; other: Record<string, string> };
  beforeAll(async () => {
    const kit = sshd.get();
    keys = {
      port: kit.port,
      ed: kit.hostPublicKey.split(' ').slice(0, 2).join(' '),
      ec: await publicKey(ecdsaHostKey),
      other: { ed: await publicKey(keygen('o_ed', 'ed25519')), ec: await publicKey(keygen('o_ec', 'ecdsa')), rsa: await publicKey(keygen('o_rsa', 'rsa')), ca: await publicKey(keygen('o_ca', 'ed25519')) },
    };
  });

  async function setup(test: Case, who: string): Promise<string> {
    const kit = sshd.get();
    const base = path.join(dir, `${test.name.replace(/\W+/g, '_')}.${who}`);
    await writeFile(`${base}.known_hosts`, test.lines(keys).map((line) => `${line}\n`).join(''));
    if (test.hash) await run('ssh-keygen', ['-H', '-f', `${base}.known_hosts`]);
    const config = [
      'Host kit',
      '  HostName 127.0.0.1',
      `  Port ${kit.port}`,
      `  User ${kit.user}`,
      `  IdentityFile ${kit.clientKeyPath}`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${base}.known_hosts`,
      '  GlobalKnownHostsFile /dev/null',
      `  StrictHostKeyChecking ${test.strict ?? 'yes'}`,
      ...(test.alias ? [`  HostKeyAlias ${test.alias}`] : []),
    ];
    await writeFile(`${base}.config`, `${config.join('\n')}\n`);
    return `${base}.config`;
  }

  async function viaSsh(config: string): Promise<Verdict> {
    try {
      await run('ssh', ['-F', config, '-o', 'BatchMode=yes', 'kit', 'true']);
      return 'ok';
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '');
      if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) return 'changed';
      if (/revoked/i.test(stderr)) return 'revoked';
      if (/Host key verification failed|host key is known|No .* host key is known/i.test(stderr)) return 'unknown';
      throw new Error(`ssh failed for another reason: ${stderr}`, { cause: error });
    }
  }

  async function viaFettle(config: string): Promise<Verdict> {
    const host: Host = { name: 'kit', transport: 'ssh', transportOptions: { sshConfig: config }, groups: [], roles: [], vars: {}, readonly: false };
    try {
      const transport = await connectHost(host, testContext().context);
      await transport.close();
      return 'ok';
    } catch (error) {
      if (!isUnreachableError(error) || error.reason !== 'host-key') throw error;
      if (/does NOT match/.test(error.message)) return 'changed';
      if (/@revoked/.test(error.message)) return 'revoked';
      if (/is unknown|trusts a certificate authority/.test(error.message)) return 'unknown';
      throw error;
    }
  }

  it.each(cases.map((test) => [test.name, test] as const))('%s', async (_name, test) => {
    const [ssh, fettle] = await Promise.all([setup(test, 'ssh').then(viaSsh), setup(test, 'fettle').then(viaFettle)]);
    expect({ ssh, fettle }).toEqual({ ssh: test.expected, fettle: test.expected });
  });
});
