import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { hostKeyAlgorithms, offeredHostKeyAlgorithms } from './host-key.js';
import { createHmac, randomBytes } from 'node:crypto';
import { checkHostKey, entryMatches, fingerprint, formatKnownHostLine, KnownHostsIndex, keyTypeOfBlob, knownHostName, knownKeyTypes, parseKnownHosts } from './known-hosts.js';

const FIXTURE = new URL('./fixtures/known_hosts', import.meta.url);
const text = readFileSync(FIXTURE, 'utf8');
const { entries, invalid } = parseKnownHosts(text, 'known_hosts');

// Keys of the fixture, and what `ssh-keygen -lf` printed for them.
const blob = (base64: string): Buffer => Buffer.from(base64, 'base64');
const K1 = blob('AAAAC3NzaC1lZDI1NTE5AAAAIJU8gHfyrEM4lVwAc9Wn81Mjigcf0py3zcq4TLchTRum');
const K2 = blob('AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBO/GVEcRy70MgU1kmTPsEH67xO5tqekIudvTFWfg7bM9sYbRRFEj8NnLLduzb+rxJLlZzi7gOk0inWPaIi3v0j0=');
const K3 = blob('AAAAC3NzaC1lZDI1NTE5AAAAIJFMg1XoAbv3BrQF1jjrf5OF1F/u3nJI+m17eQTFqqz/');
const K4 = blob('AAAAC3NzaC1lZDI1NTE5AAAAIBshWUeICXa4u/NyjIa56M+5WJB5dNku86nO6+/b3EcH');

describe('parseKnownHosts', () => {
  it('reads every usable line with its line number, and reports the others', () => {
    expect(entries.map((entry) => [entry.line, entry.marker ?? '', entry.keyType])).toEqual([
      [2, '', 'ssh-ed25519'],
      [3, '', 'ssh-ed25519'],
      [5, '', 'ecdsa-sha2-nistp256'],
      [6, '', 'ecdsa-sha2-nistp256'],
      [7, '', 'ssh-ed25519'],
      [8, '', 'ssh-ed25519'],
      [9, 'revoked', 'ssh-ed25519'],
      [10, 'cert-authority', 'ssh-ed25519'],
    ]);
    expect(invalid.map((bad) => bad.line)).toEqual([11, 12, 13]);
    expect(invalid[2]?.reason).toMatch(/unknown marker @weird/);
    expect(entries[0]?.key.equals(K1)).toBe(true);
    expect(entries.every((entry) => entry.file === 'known_hosts')).toBe(true);
  });

  it('takes CRLF files and trailing comments in stride', () => {
    const parsed = parseKnownHosts(`host ssh-ed25519 ${K1.toString('base64')} a comment\r\n\r\n`);
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.invalid).toEqual([]);
  });
});

describe('matching host names', () => {
  const at = (line: number) => {
    const entry = entries.find((candidate) => candidate.line === line);
    if (!entry) throw new Error(`no entry on line ${line}`);
    return entry;
  };

  it('matches plain names case-insensitively and comma lists', () => {
    expect(entryMatches(at(2), 'plain.example.org')).toBe(true);
    expect(entryMatches(at(2), 'PLAIN.example.org')).toBe(true);
    expect(entryMatches(at(2), '[plain.example.org]:2222')).toBe(false);
    expect(['alias1', 'alias2', '192.0.2.10'].map((name) => entryMatches(at(3), name))).toEqual([true, true, true]);
  });

  it('matches [host]:port only with that port', () => {
    expect(knownHostName('ported.example.org', 2222)).toBe('[ported.example.org]:2222');
    expect(knownHostName('ported.example.org', 22)).toBe('ported.example.org');
    expect(entryMatches(at(5), '[ported.example.org]:2222')).toBe(true);
    expect(entryMatches(at(5), 'ported.example.org')).toBe(false);
  });

  it('honours wildcards and a vetoing negation', () => {
    expect(entryMatches(at(6), 'a.wild.example.org')).toBe(true);
    expect(entryMatches(at(6), 'secret.wild.example.org')).toBe(false);
    expect(entryMatches(at(6), 'wild.example.org')).toBe(false);
  });

  it('matches hashed entries (|1|salt|hmac) written by ssh-keygen -H', () => {
    expect(entryMatches(at(7), 'hashed.example.org')).toBe(true);
    expect(entryMatches(at(7), 'other.example.org')).toBe(false);
    expect(entryMatches(at(8), '[hashed.example.org]:2222')).toBe(true);
    expect(entryMatches(at(8), 'hashed.example.org')).toBe(false);
  });
});

describe('KnownHostsIndex (one lookup per host of a run)', () => {
  // The fixture's lines (plain, lists, [host]:port, patterns, a negation, hashed, markers), and
  // more: a name listed twice, names in capitals, a plain name also hashed and in a pattern.
  const extra = [
    `dup.example.org,DUP.example.org ssh-ed25519 ${K3.toString('base64')}`,
    `Mixed.Example.ORG ssh-ed25519 ${K4.toString('base64')}`,
    formatKnownHostLine('plain.example.org', K3, { hash: true }),
    `*.example.org ssh-ed25519 ${K4.toString('base64')}`,
  ];
  const all = parseKnownHosts(`${text}\n${extra.join('\n')}\n`).entries;
  const names = ['plain.example.org', 'PLAIN.example.org', 'alias1', 'alias2', '192.0.2.10', '[ported.example.org]:2222', 'ported.example.org', 'a.wild.example.org', 'secret.wild.example.org', 'wild.example.org', 'hashed.example.org', '[hashed.example.org]:2222', 'dup.example.org', 'mixed.example.org', 'nobody.invalid', ''];

  it('finds exactly the entries a scan finds, in file order', () => {
    const index = new KnownHostsIndex(all);
    for (const name of names) {
      // A connection looks up the lowercased name, hashed entries included (as ssh does).
      const scanned = all.filter((entry) => entryMatches(entry, name.toLowerCase()));
      expect(index.matching(name), name).toEqual(scanned);
    }
    const lines = (name: string): number[] => index.matching(name).map((entry) => entry.line);
    // The cert authority's pattern (line 10), the listed-twice line once (15), the pattern (18).
    expect(lines('dup.example.org')).toEqual([10, 15, 18]);
    // Plain, revoked, cert authority, hashed, pattern: by name and by scan, in file order.
    expect(lines('plain.example.org')).toEqual([2, 9, 10, 17, 18]);
  });

  it('matches hashed entries by HMAC-SHA1 as ssh-keygen -H writes them, whatever the salt length (each compiled once)', () => {
    for (const length of [20, 64, 65, 100]) {
      const salt = randomBytes(length);
      const line = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('salted.example.org').digest('base64')} ssh-ed25519 ${K1.toString('base64')}`;
      const [entry] = parseKnownHosts(line).entries;
      expect(entry && entryMatches(entry, 'salted.example.org'), String(length)).toBe(true);
      expect(entry && entryMatches(entry, 'salted.example.or'), String(length)).toBe(false);
    }
  });
});

describe('checkHostKey', () => {
  it('knows, refuses changed keys, refuses revoked keys, and ignores cert authorities', () => {
    expect(checkHostKey(entries, 'alias2', K1)).toMatchObject({ kind: 'known', entry: { line: 3 } });
    expect(checkHostKey(entries, 'hashed.example.org', K3)).toMatchObject({ kind: 'known', entry: { line: 7 } });
    expect(checkHostKey(entries, 'alias1', K3)).toMatchObject({ kind: 'changed', expected: [{ line: 3 }] });
    // Known only as ecdsa: an ed25519 key is "changed", as OpenSSH 9 says (known-hosts-table.test.ts holds this to the ssh client).
    expect(checkHostKey(entries, '[ported.example.org]:2222', K1)).toMatchObject({ kind: 'changed', expected: [{ line: 5 }] });
    // ssh looks up the lowercased name: a mixed-case host finds its plain and its hashed entries.
    expect(checkHostKey(entries, 'ALIAS2', K1)).toMatchObject({ kind: 'known', entry: { line: 3 } });
    expect(checkHostKey(entries, 'Hashed.Example.ORG', K3)).toMatchObject({ kind: 'known', entry: { line: 7 } });
    expect(checkHostKey(entries, 'plain.example.org', K4)).toMatchObject({ kind: 'revoked', entry: { line: 9 } });
    // The @cert-authority line for *.example.org must not make the CA key acceptable as a host key.
    expect(checkHostKey(entries, 'new.example.org', K4)).toEqual({ kind: 'unknown' });
  });

  it('lists known key types first in the algorithms it offers', () => {
    expect(knownKeyTypes(entries, '[ported.example.org]:2222')).toEqual(['ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(entries, '[ported.example.org]:2222').slice(0, 2)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(hostKeyAlgorithms([], 'x')[0]).toBe('ssh-ed25519');
    const rsaOnly = parseKnownHosts(`rsahost ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.alloc(8)]).toString('base64')}\n`).entries;
    expect(hostKeyAlgorithms(rsaOnly, 'rsahost').slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it("leaves ssh2's own offer alone when the order would be its default (no KEXINIT built per connection)", () => {
    // What "default" means here must be ssh2's list, in its order, or the offer would change silently.
    const ssh2Constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as { DEFAULT_SERVER_HOST_KEY: string[] };
    expect(hostKeyAlgorithms([], 'x')).toEqual(ssh2Constants.DEFAULT_SERVER_HOST_KEY);
    expect(offeredHostKeyAlgorithms([], 'x')).toBeUndefined();
    const ed25519 = parseKnownHosts(`edhost ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(8)]).toString('base64')}\n`).entries;
    expect(offeredHostKeyAlgorithms(ed25519, 'edhost')).toBeUndefined();
    // A known ecdsa key, or algorithms set in the settings, still change what is asked for.
    expect(offeredHostKeyAlgorithms(entries, '[ported.example.org]:2222')?.slice(0, 2)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(offeredHostKeyAlgorithms([], 'x', ['ssh-ed25519'])).toEqual(['ssh-ed25519']);
  });
});

describe('fingerprint and formatting', () => {
  it('prints SHA256 fingerprints exactly like ssh-keygen -lf', () => {
    expect(fingerprint(K1)).toBe('SHA256:DWeqRdcDq4/69w5Zg89UeGpsdhTlCylYZe1Flj3M7+0');
    expect(fingerprint(K2)).toBe('SHA256:j8pcDNdm7s27gHu39YT0/zJ6KP+T5sU+IAMuDB6IF14');
    expect(fingerprint(K3)).toBe('SHA256:FH6Wr4EwzmyuJ/AtHgtFAoOhu7QuL961C7OeHm5WKIw');
    expect(fingerprint(K4)).toBe('SHA256:JMCbUYpnxiM0y3YjrktZxDefGI49BW+PEy+jZQ+U/pQ');
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOfBlob(K2)).toBe('ecdsa-sha2-nistp256');
    expect(keyTypeOfBlob(Buffer.from('garbage'))).toBeUndefined();
  });

  it('formats plain and hashed lines that parse back and match', () => {
    const plain = formatKnownHostLine('[10.0.0.1]:2222', K1);
    expect(plain).toBe(`[10.0.0.1]:2222 ssh-ed25519 ${K1.toString('base64')}`);
    const hashed = formatKnownHostLine('[10.0.0.1]:2222', K1, { hash: true });
    expect(hashed).toMatch(/^\|1\|[A-Za-z0-9+/=]{28}\|[A-Za-z0-9+/=]{28} ssh-ed25519 /);
    const [entry] = parseKnownHosts(hashed).entries;
    expect(entry && entryMatches(entry, '[10.0.0.1]:2222')).toBe(true);
    expect(entry && entryMatches(entry, '10.0.0.1')).toBe(false);
  });
});
