import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { localIdentity } from './tokens.js';
import { resolveWithParser, type ConfigFile } from './ssh-config.js';
import { parseSshG, type ResolveRequest, type SshValues } from './ssh-values.js';

const run = promisify(execFile);

/**
 * Which ssh_config to read: undefined is ssh's own default (~/.ssh/config, then
 * /etc/ssh/ssh_config), false none at all, a path that file alone (ssh -F).
 */
export type ConfigChoice = string | false | undefined;

let sshBinary: Promise<string | null> | undefined;

/** The `ssh` on PATH, or null (then fettle's own reader stands in for `ssh -G`). Looked up once. */
export function findSsh(): Promise<string | null> {
  sshBinary ??= (async () => {
    for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
      if (dir === '') continue;
      const candidate = path.join(dir, 'ssh');
      if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
    }
    return null;
  })();
  return sshBinary;
}

const cache = new Map<string, Promise<SshValues>>();

/**
 * Effective settings of one host, from `ssh -G` when ssh exists and a config is read,
 * else from the fallback reader. One resolution per distinct (host, user, port, jumps, config),
 * shared by every caller of the run; the key carries the config files' mtimes, so an
 * edited config is read again.
 */
export async function resolveHost(request: ResolveRequest, config: ConfigChoice): Promise<SshValues> {
  if (request.host.startsWith('-')) throw new Error(`invalid host name '${request.host}': it must not start with '-'`);
  const files = configFiles(config);
  const binary = await findSsh();
  const stamps = await Promise.all(files.map((file) => stat(file.path).then((s) => `${s.mtimeMs}:${s.size}`, () => '-')));
  const key = JSON.stringify([binary, request.host, request.user, request.port, request.proxyJump, config, stamps]);
  let pending = cache.get(key);
  if (!pending) {
    // With no config at all, `ssh -G -F none` only prints its defaults and the request: the reader
    // gives the same values (held equal by ssh-config-table.test.ts) without a process per host.
    pending = binary && config !== false ? askSsh(binary, request, config) : resolveWithParser(request, files);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key)); // a failure is reported, not remembered
  }
  return pending;
}

/** The files ssh reads for a config choice, in order. */
export function configFiles(config: ConfigChoice): ConfigFile[] {
  if (config === false) return [];
  if (config !== undefined) return [{ path: config, system: false, required: true }];
  return [
    { path: path.join(localIdentity().home, '.ssh', 'config'), system: false },
    { path: '/etc/ssh/ssh_config', system: true },
  ];
}

/** `ssh -G` for one host (exported for the tests that hold the fallback reader to it). */
export async function askSsh(binary: string, request: ResolveRequest, config: ConfigChoice): Promise<SshValues> {
  const args = ['-G'];
  if (config !== undefined) args.push('-F', config === false ? 'none' : config);
  if (request.user !== undefined) args.push('-l', request.user);
  if (request.port !== undefined) args.push('-p', String(request.port));
  if (request.proxyJump !== undefined) args.push('-J', request.proxyJump);
  args.push(request.host);
  try {
    const { stdout } = await run(binary, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 1024 * 1024 });
    return parseSshG(stdout);
  } catch (error) {
    const output = (error as { stderr?: unknown }).stderr;
    const stderr = typeof output === 'string' ? output.trim() : '';
    throw new Error(`ssh -G ${request.host} failed: ${stderr || (error instanceof Error ? error.message : String(error))}`, { cause: error });
  }
}
