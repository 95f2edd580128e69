import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRequest, setupSshConfigTable, TABLE_ALIASES as ALIASES, type SshConfigTable } from '@fettle/testkit';
import { resolveChain } from './settings.js';
import { resolveWithParser } from './ssh-config.js';
import { askSsh, configFiles } from './ssh-g.js';
import { formatSshValues, type ResolveRequest } from './ssh-values.js';

/**
 * Table-driven: fettle's own ssh_config reader (the fallback where no `ssh` binary
 * exists) against `ssh -G` itself, on many configs and aliases. Every keyword fettle
 * uses must come out exactly as OpenSSH prints it.
 */

let table: SshConfigTable;
let dir: string;
beforeAll(async () => {
  table = await setupSshConfigTable();
  dir = table.dir;
});
afterAll(() => table.cleanup());

const label = (alias: string | ResolveRequest): string => (typeof alias === 'string' ? alias : JSON.stringify(alias));
const request = asRequest;

describe("fettle's ssh_config reader agrees with ssh -G", () => {
  for (const [name, aliases] of Object.entries(ALIASES)) {
    describe(name, () => {
      it.each(aliases.map((alias) => [label(alias), alias] as const))('%s', async (_label, alias) => {
        const config = path.join(dir, `${name}.conf`);
        const [ours, theirs] = await Promise.all([resolveWithParser(request(alias), configFiles(config)), askSsh('ssh', request(alias), config)]);
        expect(formatSshValues(ours)).toEqual(formatSshValues(theirs));
      });
    });
  }

  it.each([
    ['a bare host', { host: 'Some.Host' }],
    ['user and port', { host: 'db-1.example.org', user: 'deploy', port: 2222 }],
    ['an address and a jump', { host: '10.0.0.5', user: 'ops', proxyJump: 'jumper@bastion:2200' }],
  ] as const)('with no config at all (ssh -F none), the defaults: %s', async (_label, req: ResolveRequest) => {
    const [ours, theirs] = await Promise.all([resolveWithParser(req, configFiles(false)), askSsh('ssh', req, false)]);
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
