import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Host } from '@fettle/core';
import { knownHostName } from './known-hosts.js';
import type { SshOptions } from './options.js';
import { all, expandHome, expandTokens, first, loadSshConfig, type SshConfigFile, type SshConfigValues } from './ssh-config.js';

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
  /** Read in order; the first one is where accept-new records keys. */
  readonly knownHostsFiles: readonly string[];
  readonly hashKnownHosts: boolean;
}

export interface SshSettings {
  /** The host's inventory name, for messages. */
  readonly name: string;
  readonly target: Endpoint;
  /** ProxyJump chain, first hop first. */
  readonly jumps: readonly Endpoint[];
}

export interface Explicit {
  readonly hostname?: string | undefined;
  readonly port?: number | undefined;
  readonly user?: string | undefined;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/**
 * Resolve where and how to connect: the Host's own fields first, then the
 * transport options, then ssh_config (as `ssh ALIAS` would read it), then defaults.
 */
export async function resolveSettings(host: Host, options: SshOptions, siteDir: string): Promise<SshSettings> {
  const configPath = options.sshConfig === false ? null : resolvePath(options.sshConfig ?? '~/.ssh/config', siteDir);
  const config = configPath ? await loadSshConfig(configPath) : null;
  const alias = host.address ?? host.name;
  const values = config?.lookup(alias) ?? {};
  const target = resolveEndpoint(alias, values, { port: host.port ?? options.port, user: host.user ?? options.user }, options, siteDir);

  let jumpSpec: string | undefined;
  if (options.proxyJump !== false) jumpSpec = options.proxyJump ?? first(values, 'proxyjump');
  if (options.proxyJump === undefined && first(values, 'proxycommand') !== undefined && first(values, 'proxycommand') !== 'none' && !jumpSpec) {
    throw new Error(`ssh_config gives ${alias} a ProxyCommand, which this transport does not run; use ProxyJump instead`);
  }
  const jumps = jumpSpec && jumpSpec !== 'none' ? parseJumpSpec(jumpSpec).map((hop) => resolveHop(hop, config, options, siteDir)) : [];
  return { name: host.name, target, jumps };
}

function resolveHop(hop: Explicit & { hostname: string }, config: SshConfigFile | null, options: SshOptions, siteDir: string): Endpoint {
  return resolveEndpoint(hop.hostname, config?.lookup(hop.hostname) ?? {}, { port: hop.port, user: hop.user }, options, siteDir);
}

export function resolveEndpoint(alias: string, values: SshConfigValues, explicit: Explicit, options: SshOptions, siteDir: string): Endpoint {
  const hostname = explicit.hostname ?? first(values, 'hostname')?.replace(/%h/g, alias) ?? alias;
  const configPort = first(values, 'port');
  const port = explicit.port ?? (configPort ? Number.parseInt(configPort, 10) : 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port for ${alias}: ${String(configPort)}`);
  const user = explicit.user ?? first(values, 'user') ?? os.userInfo().username;
  const tokens = { host: hostname, port, user };

  let identityFiles: { path: string; explicit: boolean }[];
  if (options.identityFile !== undefined) {
    const list = typeof options.identityFile === 'string' ? [options.identityFile] : options.identityFile;
    identityFiles = list.map((file) => ({ path: resolvePath(file, siteDir), explicit: true }));
  } else if (all(values, 'identityfile').length > 0) {
    identityFiles = all(values, 'identityfile').map((file) => ({ path: path.resolve(expandTokens(file, tokens)), explicit: true }));
  } else {
    identityFiles = DEFAULT_KEYS.map((file) => ({ path: path.join(os.homedir(), '.ssh', file), explicit: false }));
  }

  const identitiesOnly = first(values, 'identitiesonly')?.toLowerCase() === 'yes';
  let agent: string | undefined;
  if (options.agent !== undefined) agent = options.agent === false ? undefined : resolvePath(options.agent, siteDir);
  else {
    const configured = first(values, 'identityagent');
    if (configured === undefined || configured === 'SSH_AUTH_SOCK') agent = process.env['SSH_AUTH_SOCK'] || undefined;
    else if (configured !== 'none') agent = expandTokens(configured.replace(/^\$\{?SSH_AUTH_SOCK\}?$/, process.env['SSH_AUTH_SOCK'] ?? ''), tokens) || undefined;
  }
  // IdentitiesOnly: the agent may hold other keys; offering them would burn MaxAuthTries.
  if (identitiesOnly && options.agent === undefined) agent = undefined;

  const configTimeout = first(values, 'connecttimeout');
  const connectTimeoutMs = options.connectTimeoutMs ?? (configTimeout ? Number.parseInt(configTimeout, 10) * 1000 : 10_000);

  let knownHostsFiles: string[];
  if (options.knownHosts !== undefined) {
    knownHostsFiles = (typeof options.knownHosts === 'string' ? [options.knownHosts] : options.knownHosts).map((file) => resolvePath(file, siteDir));
  } else {
    const user = all(values, 'userknownhostsfile').filter((file) => file !== 'none');
    const global = all(values, 'globalknownhostsfile').filter((file) => file !== 'none');
    knownHostsFiles = [
      ...(user.length > 0 ? user.map((file) => expandTokens(file, tokens)) : [path.join(os.homedir(), '.ssh', 'known_hosts')]),
      ...(global.length > 0 ? global : ['/etc/ssh/ssh_known_hosts']),
    ];
  }

  return {
    alias,
    hostname,
    port,
    user,
    hostKeyName: first(values, 'hostkeyalias') ?? knownHostName(hostname, port),
    identityFiles: identityFiles.filter((file) => file.explicit || existsSync(file.path)),
    agent,
    connectTimeoutMs: Number.isFinite(connectTimeoutMs) && connectTimeoutMs > 0 ? connectTimeoutMs : 10_000,
    knownHostsFiles,
    hashKnownHosts: first(values, 'hashknownhosts')?.toLowerCase() === 'yes',
  };
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
  return path.resolve(siteDir, expandHome(value));
}
