#!/usr/bin/env node
// Host key lookups of one run: every host of an N-host run looked up in a known_hosts file of N
// lines (one per host), plain and hashed (`HashKnownHosts yes`, Debian's default for ssh's own
// file). CPU of the lookups alone, in this process, for the build given (default: this checkout's):
//   node bench/known-hosts.mjs [--hosts 1024] [--dist plugins/transport-ssh/dist]
// With a build that has KnownHostsIndex (what a run uses since 2026-12-02) it is measured too;
// "scan" is a filter of every entry per host, what a run did before.
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1024' }, dist: { type: 'string', default: 'plugins/transport-ssh/dist' } } });
const hosts = Number(values.hosts);
const ssh = await import(pathToFileURL(path.resolve(values.dist, 'index.js')).href);
const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
const type = Buffer.from('ssh-ed25519');
const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), der.subarray(der.length - 32)]);
const names = Array.from({ length: hosts }, (_, i) => `[10.${i >> 16}.${(i >> 8) & 255}.${i & 255}]:${2200 + (i % 100)}`);

for (const hash of [false, true]) {
  const { entries } = ssh.parseKnownHosts(names.map((name) => ssh.formatKnownHostLine(name, blob, { hash })).join('\n'));
  const time = (lookup) => {
    const start = process.cpuUsage();
    let found = 0;
    for (const name of names) found += lookup(name).length;
    const used = process.cpuUsage(start);
    if (found !== hosts) throw new Error(`expected one entry per host, found ${found}`);
    return (used.user + used.system) / 1000;
  };
  const scan = time((name) => entries.filter((entry) => ssh.entryMatches(entry, name.toLowerCase())));
  let indexed = '';
  if (ssh.KnownHostsIndex) {
    const index = new ssh.KnownHostsIndex(entries);
    indexed = `  index ${time((name) => index.matching(name)).toFixed(0)} ms`;
  }
  console.log(`${hash ? 'hashed' : 'plain '} ${hosts} hosts x ${hosts} lines: scan ${scan.toFixed(0)} ms${indexed}`);
}
