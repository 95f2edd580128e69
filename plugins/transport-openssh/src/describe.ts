import type { TransportDescription, TransportHop } from '@fettle/core';
import { effectiveSettings, type SshCommandLine } from './command-line.js';

/** The keywords `fettle hosts --ssh` shows, in ssh -G's spelling (the same as the ssh transport's). */
const KEYWORDS = [
  'hostname',
  'port',
  'user',
  'identityfile',
  'identitiesonly',
  'identityagent',
  'certificatefile',
  'proxyjump',
  'proxycommand',
  'stricthostkeychecking',
  'userknownhostsfile',
  'globalknownhostsfile',
  'hostkeyalias',
  'connecttimeout',
  'serveraliveinterval',
  'serveralivecountmax',
  'hostkeyalgorithms',
  'hashknownhosts',
];

/**
 * What ssh will use for a host and each jump host, from `ssh -G`. A jump host is what
 * ssh itself runs for `ProxyJump a,b,c`: `ssh [-F config] -l -p -J a,b c`, so only
 * the config file is carried to the hops, not the other options.
 */
export async function describeHops(line: SshCommandLine, depth = 0): Promise<TransportDescription> {
  if (depth > 8) throw new Error(`ProxyJump chain of ${line.destination} is longer than 8 hops (a loop?)`);
  const settings = await effectiveSettings(line);
  const hop: TransportHop = {
    name: line.destination,
    settings: KEYWORDS.flatMap((keyword) => (settings.get(keyword) ?? []).map((value) => [keyword, value] as const)),
  };
  const jump = settings.get('proxyjump')?.[0];
  if (jump === undefined) return { hops: [hop], warnings: [] };
  const entries = jump.split(',');
  const match = /^(?:ssh:\/\/)?(?:([^@]+)@)?(?:\[([^\]]+)\]|([^:@]+))(?::(\d+))?$/.exec((entries.at(-1) ?? '').trim());
  const name = match?.[2] ?? match?.[3];
  if (!match || !name) throw new Error(`cannot read ProxyJump '${jump}' of ${line.destination}`);
  const config = line.options.indexOf('-F');
  const options = [
    ...(config >= 0 ? line.options.slice(config, config + 2) : []),
    ...(match[1] ? ['-l', match[1]] : []),
    ...(match[4] ? ['-p', match[4]] : []),
    ...(entries.length > 1 ? ['-J', entries.slice(0, -1).join(',')] : []),
  ];
  const before = await describeHops({ binary: line.binary, options, destination: name }, depth + 1);
  return { hops: [...before.hops, hop], warnings: before.warnings };
}
