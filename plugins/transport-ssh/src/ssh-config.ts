import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';

/** Values for one host, keys lowercased; `identityfile` and other repeatable keys are lists. */
export type SshConfigValues = Readonly<Record<string, string | readonly string[]>>;

/** A parsed ssh_config that answers "what applies to this host?". */
export interface SshConfigFile {
  readonly file: string;
  lookup(host: string): SshConfigValues;
}

/** Parse ssh_config text (Includes already expanded). */
export function parseSshConfig(text: string, file = '(ssh_config)'): SshConfigFile {
  const config = SSHConfig.parse(text);
  return {
    file,
    // matchExec false: resolving a host must never run commands from a config file.
    lookup: (host) => config.compute(host, { ignoreCase: true, matchExec: false }),
  };
}

/** Read an ssh_config file, expanding `Include` lines; null when the file does not exist. */
export async function loadSshConfig(file: string): Promise<SshConfigFile | null> {
  const text = await readOptional(file);
  if (text === null) return null;
  return parseSshConfig(await expandIncludes(text, path.dirname(file), 0), file);
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

/**
 * The `ssh-config` package does not follow `Include`; OpenSSH splices the included
 * files in place (relative names are under ~/.ssh, globs allowed), so do the same.
 */
async function expandIncludes(text: string, baseDir: string, depth: number): Promise<string> {
  if (depth > 16) throw new Error('ssh_config Include nesting is deeper than 16 levels');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*include\s*[\s=]\s*(.+?)\s*$/i.exec(line);
    if (!match?.[1]) {
      out.push(line);
      continue;
    }
    for (const pattern of splitWords(match[1])) {
      const expanded = expandHome(pattern);
      const absolute = path.isAbsolute(expanded) ? expanded : path.join(baseDir, expanded);
      for (const file of await globFiles(absolute)) {
        const included = await readOptional(file);
        if (included !== null) out.push(await expandIncludes(included, baseDir, depth + 1));
      }
    }
  }
  return out.join('\n');
}

/** Glob with `*` and `?` in the last path component (what Include lines use in practice). */
async function globFiles(pattern: string): Promise<string[]> {
  const base = path.basename(pattern);
  if (!/[*?]/.test(base)) return [pattern];
  const dir = path.dirname(pattern);
  const regex = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => regex.test(name)).sort().map((name) => path.join(dir, name));
}

function splitWords(value: string): string[] {
  return [...value.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '').filter((word) => word !== '');
}

export function expandHome(value: string): string {
  if (value === '~') return os.homedir();
  if (value.startsWith('~/')) return path.join(os.homedir(), value.slice(2));
  return value;
}

/** First value of a key (ssh_config keeps the first one obtained). */
export function first(values: SshConfigValues, key: string): string | undefined {
  const value = values[key];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}

/** All values of a key (IdentityFile, UserKnownHostsFile …), flattened. */
export function all(values: SshConfigValues, key: string): string[] {
  const value = values[key];
  if (value === undefined) return [];
  return (typeof value === 'string' ? [value] : [...value]).flatMap(splitWords);
}

/** Expand `%h %p %r %u %d %%` and `~`, as ssh_config does in file names. */
export function expandTokens(value: string, tokens: { host: string; port: number; user: string }): string {
  const local = os.userInfo().username;
  const replaced = value.replace(/%([hprud%])/g, (_all, token: string) => {
    switch (token) {
      case 'h':
        return tokens.host;
      case 'p':
        return String(tokens.port);
      case 'r':
        return tokens.user;
      case 'u':
        return local;
      case 'd':
        return os.homedir();
      default:
        return '%';
    }
  });
  return expandHome(replaced);
}
