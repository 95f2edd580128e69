import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Host } from '@fettle/core';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import { knownHostName } from './known-hosts.js';
import type { SshOptions } from './options.js';
import { resolveHost, type ConfigChoice } from './ssh-g.js';
import { DEFAULT_HOST_KEY_ALGORITHMS, splitFileList, type ResolveRequest, type SshValues } from './ssh-values.js';
import { expandTokens, localIdentity, type TokenValues } from './tokens.js';

export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** Everything needed to reach one SSH server (the target or a jump host). */
export interface Endpoint {
  /** The name looked up in ssh_config (what you would type after `ssh`). */
  readonly alias: string;
  readonly hostname: string;
  readonly port: number;
  readonly user: string;
  /** Name under which the host key is looked up and recorded: HostKeyAlias, else `[hostname]:port`. */
  readonly hostKeyName: string;
  readonly identityFiles: readonly { readonly path: string; readonly explicit: boolean }[];
  /** Agent socket, or undefined for none. */
  readonly agent: string | undefined;
  readonly connectTimeoutMs: number;
  /** Every known_hosts file read, user files first. */
  readonly knownHostsFiles: readonly string[];
  /** Where accept-new records keys (the first user file), undefined when there is none. */
  readonly recordFile: string | undefined;
  readonly hashKnownHosts: boolean;
  readonly hostKeyPolicy: HostKeyPolicy;
  /** ssh_config HostKeyAlgorithms that ssh2 supports; undefined: ssh2's own order. */
  readonly hostKeyAlgorithms: readonly ServerHostKeyAlgorithm[] | undefined;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /** The effective settings, in ssh -G's spelling (for `fettle hosts --ssh`). */
  readonly values: SshValues;
}

export interface SshSettings {
  /** The host's inventory name, for messages. */
  readonly name: string;
  readonly target: Endpoint;
  /** ProxyJump chain, first hop first. */
  readonly jumps: readonly Endpoint[];
  /** Settings this transport cannot honour but can do without, each naming the setting. */
  readonly warnings: readonly string[];
  /** Settings it cannot do without (a ProxyCommand): connect refuses the host with the first. */
  readonly problems: readonly string[];
}

export interface Explicit {
  readonly hostname?: string | undefined;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
}

/** What ssh2 can verify and negotiate (no certificates, no security keys). */
const SSH2_HOST_KEY_ALGORITHMS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((name) => `~/.ssh/${name}`);
const USE_OPENSSH = "use transport 'openssh' (the system ssh) for this host";

/** Which ssh_config the options name (paths relative to the site). */
export function configChoice(options: SshOptions, siteDir: string): ConfigChoice {
  return options.sshConfig === false || options.sshConfig === undefined ? options.sshConfig : resolvePath(options.sshConfig, siteDir);
}

/** The -l / -p / -J fettle passes for a host: its own fields, then the transport options. */
export function hostRequest(host: Host, options: Pick<SshOptions, 'user' | 'port' | 'proxyJump'>): ResolveRequest {
  return {
    host: host.address ?? host.name,
    user: host.user ?? options.user,
    port: host.port ?? options.port,
    proxyJump: options.proxyJump === false ? 'none' : options.proxyJump,
  };
}

/** One hop of a chain: what was asked, and what OpenSSH's rules resolved it to. */
export interface ResolvedHop {
  readonly request: ResolveRequest;
  readonly values: SshValues;
}

/**
 * Resolve a host and, hop by hop, its jump hosts, the way ssh does: a target with
 * `ProxyJump a,b,c` is reached through c, and c is resolved as `ssh -J a,b c` would be,
 * so only a single remaining hop's own ProxyJump is followed. First hop first.
 */
export async function resolveChain(request: ResolveRequest, config: ConfigChoice, resolve = resolveHost, depth = 0): Promise<ResolvedHop[]> {
  if (depth > 8) throw new Error(`ProxyJump chain of ${request.host} is longer than 8 hops (a loop?)`);
  const values = await resolve(request, config);
  const spec = values.lines.proxyjump?.[0];
  if (spec === undefined) return [{ request, values }];
  const entries = spec.split(',');
  const last = parseJumpSpec(entries.at(-1) ?? '')[0];
  if (!last) throw new Error(`cannot read ProxyJump '${spec}' of ${request.host}`);
  const rest = entries.slice(0, -1).join(',');
  const before = await resolveChain({ host: last.hostname, user: last.user, port: last.port, proxyJump: rest === '' ? undefined : rest }, config, resolve, depth + 1);
  return [...before, { request, values }];
}

/**
 * Resolve where and how to connect: the Host's own fields first, then the transport
 * options, then ssh_config exactly as `ssh ALIAS` reads it, then OpenSSH's defaults.
 */
export async function resolveSettings(host: Host, options: SshOptions, siteDir: string): Promise<SshSettings> {
  const chain = await resolveChain(hostRequest(host, options), configChoice(options, siteDir));
  const warnings: string[] = [];
  const problems: string[] = [];
  const endpoints = chain.map((hop) => endpointOf(hop, options, siteDir, warnings, problems));
  const target = endpoints.at(-1);
  if (!target) throw new Error(`no settings for ${host.name}`);
  return { name: host.name, target, jumps: endpoints.slice(0, -1), warnings: [...new Set(warnings)], problems };
}

const line = (values: SshValues, keyword: keyof SshValues['lines']): string | undefined => values.lines[keyword]?.[0];

function endpointOf(hop: ResolvedHop, options: SshOptions, siteDir: string, warnings: string[], problems: string[]): Endpoint {
  const { values } = hop;
  const alias = hop.request.host;
  const hostname = line(values, 'hostname') ?? alias;
  const port = Number.parseInt(line(values, 'port') ?? '22', 10);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port for ${alias}: ${String(line(values, 'port'))}`);
  const user = line(values, 'user') ?? localIdentity().user;
  const hostKeyAlias = line(values, 'hostkeyalias');
  const tokens: TokenValues = { original: alias, host: hostname, port, user, hostKeyAlias, proxyJump: line(values, 'proxyjump') };
  for (const note of values.notes) warnings.push(`${alias}: ${note}`);

  if (line(values, 'proxycommand') !== undefined) {
    problems.push(`ssh_config gives ${alias} a ProxyCommand (${line(values, 'proxycommand') ?? ''}), which the ssh2 transport does not run; use ProxyJump, or ${USE_OPENSSH}`);
  }
  for (const file of values.lines.certificatefile ?? []) {
    warnings.push(`ssh_config CertificateFile ${file} (for ${alias}) cannot be used by ssh2, which has no SSH certificate support; the plain key is offered instead. To log in with the certificate, ${USE_OPENSSH}`);
  }

  const configured = values.lines.identityfile ?? [];
  let identityFiles: { path: string; explicit: boolean }[];
  if (options.identityFile !== undefined) {
    const list = typeof options.identityFile === 'string' ? [options.identityFile] : options.identityFile;
    identityFiles = list.map((file) => ({ path: resolvePath(file, siteDir), explicit: true }));
  } else {
    const isDefault = configured.length === DEFAULT_IDENTITY_FILES.length && configured.every((file, index) => file === DEFAULT_IDENTITY_FILES[index]);
    identityFiles = configured.filter((file) => file !== 'none').map((file) => ({ path: path.resolve(expandTokens(file, tokens)), explicit: !isDefault }));
  }
  for (const file of identityFiles) {
    if (/_sk$/.test(file.path) && (file.explicit || existsSync(file.path))) {
      warnings.push(`identity file ${file.path} (for ${alias}) looks like a FIDO security key, which ssh2 cannot use; ${USE_OPENSSH}`);
    }
  }

  const identitiesOnly = line(values, 'identitiesonly') === 'yes';
  let agent: string | undefined;
  if (options.agent !== undefined) agent = options.agent === false ? undefined : resolvePath(options.agent, siteDir);
  else agent = agentSocket(line(values, 'identityagent'));
  // IdentitiesOnly: the agent may hold other keys; offering them would burn MaxAuthTries.
  if (identitiesOnly && options.agent === undefined) agent = undefined;

  const timeout = Number.parseInt(line(values, 'connecttimeout') ?? '', 10);
  const connectTimeoutMs = options.connectTimeoutMs ?? (timeout > 0 ? timeout * 1000 : 10_000);

  let knownHostsFiles: string[];
  let recordFile: string | undefined;
  if (options.knownHosts !== undefined) {
    knownHostsFiles = (typeof options.knownHosts === 'string' ? [options.knownHosts] : options.knownHosts).map((file) => resolvePath(file, siteDir));
    recordFile = knownHostsFiles[0];
  } else {
    const userFiles = splitFileList(line(values, 'userknownhostsfile')).map((file) => expandTokens(file, tokens));
    knownHostsFiles = [...userFiles, ...splitFileList(line(values, 'globalknownhostsfile')).map((file) => expandTokens(file, tokens))];
    recordFile = userFiles[0];
  }

  const interval = Number.parseInt(line(values, 'serveraliveinterval') ?? '0', 10);
  const countMax = Number.parseInt(line(values, 'serveralivecountmax') ?? '3', 10);
  return {
    alias,
    hostname,
    port,
    user,
    hostKeyName: hostKeyAlias ?? knownHostName(hostname, port),
    identityFiles: identityFiles.filter((file) => file.explicit || existsSync(file.path)),
    agent,
    connectTimeoutMs,
    knownHostsFiles,
    recordFile,
    hashKnownHosts: line(values, 'hashknownhosts') === 'yes',
    hostKeyPolicy: options.hostKeyPolicy ?? policyOf(line(values, 'stricthostkeychecking')),
    hostKeyAlgorithms: ssh2Algorithms(line(values, 'hostkeyalgorithms'), alias, warnings, problems),
    // ssh's default is no keepalive; fettle still wants to notice a dead peer mid-run.
    keepaliveIntervalMs: interval > 0 ? interval * 1000 : 15_000,
    keepaliveCountMax: countMax > 0 ? countMax : 3,
    values,
  };
}

/** StrictHostKeyChecking as ssh -G prints it. `ask` cannot ask in a batch run: it refuses, like strict. */
function policyOf(value: string | undefined): HostKeyPolicy {
  if (value === 'accept-new') return 'accept-new';
  if (value === 'false') return 'off';
  return 'strict';
}

function agentSocket(configured: string | undefined): string | undefined {
  if (configured === 'none') return undefined;
  if (configured === undefined || configured === 'SSH_AUTH_SOCK') return process.env['SSH_AUTH_SOCK'] || undefined;
  if (/^\$[A-Za-z_]/.test(configured)) return process.env[configured.slice(1)] || undefined;
  return configured;
}

/** A configured HostKeyAlgorithms, kept to what ssh2 negotiates; the default list leaves ssh2's order alone. */
function ssh2Algorithms(value: string | undefined, alias: string, warnings: string[], problems: string[]): ServerHostKeyAlgorithm[] | undefined {
  if (value === undefined || value === DEFAULT_HOST_KEY_ALGORITHMS.join(',')) return undefined;
  const list = value.split(',');
  const usable = list.filter((name): name is ServerHostKeyAlgorithm => SSH2_HOST_KEY_ALGORITHMS.has(name));
  const dropped = list.filter((name) => !SSH2_HOST_KEY_ALGORITHMS.has(name) && !/-cert-v01@openssh\.com$|^sk-/.test(name));
  if (dropped.length > 0) warnings.push(`ssh_config HostKeyAlgorithms for ${alias} names ${dropped.join(', ')}, which ssh2 cannot use; ${USE_OPENSSH} to use them`);
  if (usable.length > 0) return usable;
  problems.push(`ssh_config HostKeyAlgorithms for ${alias} (${value}) leaves nothing ssh2 can use; ${USE_OPENSSH}`);
  return undefined;
}

/** `[user@]host[:port]` (or `ssh://user@host:port`, `[v6addr]:port`), comma-separated. */
export function parseJumpSpec(spec: string): (Explicit & { hostname: string })[] {
  return spec.split(',').map((raw) => {
    const text = raw.trim().replace(/^ssh:\/\//, '');
    const match = /^(?:([^@]+)@)?(?:\[([^\]]+)\]|([^:@]+))(?::(\d+))?$/.exec(text);
    const hostname = match?.[2] ?? match?.[3];
    if (!match || !hostname) throw new Error(`cannot read ProxyJump entry '${raw}': expected [user@]host[:port]`);
    return { hostname, user: match[1], port: match[4] ? Number.parseInt(match[4], 10) : undefined };
  });
}

/** Options paths are relative to the site folder; `~` is the controller user's home. */
export function resolvePath(value: string, siteDir: string): string {
  const home = localIdentity().home;
  const expanded = value === '~' ? home : value.startsWith('~/') ? path.join(home, value.slice(2)) : value;
  return path.resolve(siteDir, expanded);
}
