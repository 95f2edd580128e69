import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Host } from '@fettle/core';
import type { OpensshOptions } from './options.js';

const run = promisify(execFile);

/** How to call ssh for one host: the options every call shares, and the destination. */
export interface SshCommandLine {
  readonly binary: string;
  /** -F, -l, -p, -J, -i and -o options from the Host and the transport options. */
  readonly options: readonly string[];
  readonly destination: string;
}

const quoteList = (files: readonly string[]): string => files.map((file) => `"${file.replace(/(["\\])/g, '\\$1')}"`).join(' ');

/** Options paths are relative to the site folder; `~` is the controller user's home. */
function resolvePath(value: string, siteDir: string): string {
  const home = os.userInfo().homedir;
  return path.resolve(siteDir, value === '~' ? home : value.startsWith('~/') ? path.join(home, value.slice(2)) : value);
}

/** The ssh options for a host: what fettle says, and nothing else (ssh_config says the rest). */
export function commandLine(host: Host, options: OpensshOptions, siteDir: string, binary = 'ssh'): SshCommandLine {
  const args: string[] = [];
  if (options.sshConfig !== undefined) args.push('-F', options.sshConfig === false ? 'none' : resolvePath(options.sshConfig, siteDir));
  const user = host.user ?? options.user;
  const port = host.port ?? options.port;
  if (user !== undefined) args.push('-l', user);
  if (port !== undefined) args.push('-p', String(port));
  if (options.proxyJump !== undefined) args.push('-J', options.proxyJump === false ? 'none' : options.proxyJump);
  if (options.identityFile !== undefined) {
    for (const file of typeof options.identityFile === 'string' ? [options.identityFile] : options.identityFile) args.push('-i', resolvePath(file, siteDir));
    args.push('-o', 'IdentitiesOnly=yes');
  }
  if (options.knownHosts !== undefined) {
    const files = (typeof options.knownHosts === 'string' ? [options.knownHosts] : options.knownHosts).map((file) => resolvePath(file, siteDir));
    args.push('-o', `UserKnownHostsFile=${quoteList(files)}`, '-o', 'GlobalKnownHostsFile=/dev/null');
  }
  if (options.hostKeyPolicy !== undefined) {
    args.push('-o', `StrictHostKeyChecking=${{ strict: 'yes', 'accept-new': 'accept-new', off: 'no' }[options.hostKeyPolicy]}`);
  }
  if (options.agent !== undefined) args.push('-o', `IdentityAgent=${options.agent === false ? 'none' : resolvePath(options.agent, siteDir)}`);
  if (options.connectTimeoutMs !== undefined) args.push('-o', `ConnectTimeout=${Math.max(1, Math.ceil(options.connectTimeoutMs / 1000))}`);
  for (const [keyword, value] of Object.entries(options.sshOptions ?? {})) args.push('-o', `${keyword}=${value}`);
  const destination = host.address ?? host.name;
  if (destination.startsWith('-')) throw new Error(`invalid host name '${destination}': it must not start with '-'`);
  return { binary, options: args, destination };
}

/** `ssh -G` for the command line: OpenSSH's own effective settings, as `keyword value` lines. */
export async function effectiveSettings(line: SshCommandLine, extra: readonly string[] = []): Promise<Map<string, string[]>> {
  try {
    const { stdout } = await run(line.binary, ['-G', ...line.options, ...extra, line.destination], { encoding: 'utf8', timeout: 10_000 });
    const settings = new Map<string, string[]>();
    for (const entry of stdout.split('\n')) {
      const space = entry.indexOf(' ');
      if (space <= 0) continue;
      const keyword = entry.slice(0, space);
      settings.set(keyword, [...(settings.get(keyword) ?? []), entry.slice(space + 1)]);
    }
    return settings;
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`ssh -G ${line.destination} failed: ${typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : String(error)}`, { cause: error });
  }
}
