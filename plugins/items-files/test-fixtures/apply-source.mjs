// Applies one `file` item with a `source` to one host over SSH in a fresh process, then
// prints the process's peak resident memory: how ssh.test.ts shows that a large source
// file is streamed, never held whole. Usage: node apply-source.mjs JSON
// (JSON: { transport, siteDir, source, target, host: { address, port, user, transportOptions } }).
import { MemoryHostStore, Registry, runSite } from '@fettle/core';
import openssh from '@fettle/transport-openssh';
import ssh from '@fettle/transport-ssh';
import files from '../dist/index.js';

const input = JSON.parse(process.argv[2]);
const site = {
  plugins: [files, input.transport === 'ssh' ? ssh : openssh],
  hosts: new MemoryHostStore({ hosts: { big: { transport: input.transport, ...input.host } }, defaultRoles: ['r'] }),
  roles: { r: () => ({ [`file:${input.target}`]: { source: input.source, mode: '0640' } }) },
};
const result = await runSite({ site, siteDir: input.siteDir, registry: new Registry(site.plugins), hosts: await site.hosts.listHosts(), mode: 'apply', details: false });
console.log(JSON.stringify({ status: result.hosts[0]?.status, error: result.hosts[0]?.error ?? result.hosts[0]?.items[0]?.error, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
