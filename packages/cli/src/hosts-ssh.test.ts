import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The ssh_config table of @fettle/transport-ssh's own tests: the same configs and aliases.
import { asRequest, setupSshConfigTable, type SshConfigTable } from '@fettle/testkit';
import { bin } from './test-sites.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const sshPlugin = path.resolve(here, '../../../plugins/transport-ssh/dist/index.js');
// The site lives beside the ssh plugin, so node finds the plugin's own dependencies (ssh2) from the compiled config.
const sitesRoot = path.resolve(here, '../../../plugins/transport-ssh/.test-sites');
mkdirSync(sitesRoot, { recursive: true });

interface HostsSsh {
  hosts: { host: string; transport: string; hops: { name: string; settings: Record<string, string[]> }[]; warnings: string[] }[];
}

/** `ssh -G` for one hop request, as `keyword value` lines grouped by keyword (only the keywords fettle shows). */
async function sshG(config: string, request: { host: string; user?: string; port?: number; proxyJump?: string }, keywords: readonly string[]): Promise<Record<string, string[]>> {
  const args = ['-G', '-F', config];
  if (request.user) args.push('-l', request.user);
  if (request.port) args.push('-p', String(request.port));
  if (request.proxyJump) args.push('-J', request.proxyJump);
  const { stdout } = await run('ssh', [...args, request.host]);
  const grouped: Record<string, string[]> = {};
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    const keyword = line.slice(0, space);
    if (space > 0 && keywords.includes(keyword)) (grouped[keyword] ??= []).push(line.slice(space + 1));
  }
  return grouped;
}

describe('fettle hosts --ssh agrees with ssh -G, for every alias of the ssh_config table', () => {
  let table: SshConfigTable;
  let site: string;
  const hostNames = new Map<string, { config: string; request: ReturnType<typeof asRequest> }>();

  beforeAll(async () => {
    table = await setupSshConfigTable();
    const hosts: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(table.cases)) {
      entry.aliases.forEach((alias, index) => {
        const request = asRequest(alias);
        const hostName = `${name}-${index}`;
        hostNames.set(hostName, { config: entry.file, request });
        hosts[hostName] = {
          transport: 'ssh',
          address: request.host,
          ...(request.user ? { user: request.user } : {}),
          ...(request.port ? { port: request.port } : {}),
          transportOptions: { sshConfig: entry.file, ...(request.proxyJump ? { proxyJump: request.proxyJump } : {}) },
        };
      });
    }
    site = mkdtempSync(path.join(sitesRoot, 'hosts-ssh-'));
    writeFileSync(
      path.join(site, 'fettle.config.ts'),
      `import { MemoryHostStore, defineSite } from '@fettle/core';
import ssh from ${JSON.stringify(sshPlugin)};
export default defineSite({ plugins: [ssh], hosts: new MemoryHostStore({ hosts: ${JSON.stringify(hosts)} }), roles: {} });
`,
    );
  });
  afterAll(async () => {
    await table.cleanup();
    rmSync(site, { recursive: true, force: true });
  });

  // With ssh on PATH, fettle asks ssh -G; without, its own reader answers: both must agree with ssh -G.
  for (const mode of ['ssh on PATH', 'no ssh binary (fallback reader)'] as const) {
    it(mode, async () => {
      const env = { ...process.env, NO_COLOR: '1', ...(mode === 'ssh on PATH' ? {} : { PATH: path.join(site, 'empty-path') }) };
      const result = spawnSync(process.execPath, [bin, 'hosts', '--ssh', '--json', '--site', site], { encoding: 'utf8', env });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
      const output = JSON.parse(result.stdout) as HostsSsh;
      expect(output.hosts.map((host) => host.host).sort()).toEqual([...hostNames.keys()].sort());
      for (const described of output.hosts) {
        const { config, request } = hostNames.get(described.host) ?? { config: '', request: { host: '' } };
        const target = described.hops.at(-1);
        expect(target?.name).toBe(request.host);
        const keywords = Object.keys(target?.settings ?? {});
        expect(keywords).toEqual(expect.arrayContaining(['hostname', 'port', 'user', 'identityfile', 'stricthostkeychecking', 'userknownhostsfile', 'hostkeyalgorithms']));
        expect({ host: described.host, settings: target?.settings }).toEqual({ host: described.host, settings: await sshG(config, request, keywords) });
      }
      // Jump hops too: `target` in the jumps config goes through hop2 (own ProxyJump) and hop1 (own ProxyJump).
      const chain = output.hosts.find((host) => host.host === 'jumps-0');
      expect(chain?.hops.map((hop) => hop.name)).toEqual(['gw', 'hop1', 'hop2', 'target']);
      const hop1 = chain?.hops[1];
      expect(hop1?.settings).toEqual(await sshG(table.cases['jumps']?.file ?? '', { host: 'hop1', user: 'jumper', port: 2201 }, Object.keys(hop1?.settings ?? {})));
    });
  }

  it('prints ssh -G lines, a comment per hop', () => {
    const result = spawnSync(process.execPath, [bin, 'hosts', 'jumps-0', '--ssh', '--site', site], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('# jumps-0: jump host 1, gw');
    expect(lines).toContain('# jumps-0 (ssh transport, as target)');
    expect(lines).toContain('hostname 10.0.0.2');
    expect(lines).toContain('user jumper');
    expect(lines).toContain('proxyjump jumper@hop1:2201');
  });
});
