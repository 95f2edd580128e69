import path from 'node:path';
import { defineFact } from '../protocols/fact.js';
import type { ItemContext } from '../protocols/item.js';
import { sh, type HostPath, type Shell } from '../protocols/shell.js';

/**
 * Where stamps live on a host (before the transport's root is put in front).
 * One folder per object (the fettle host name), one file per task:
 * `/var/lib/fettle/stamps/HOST/TASK`. Other stamp kinds (a template's hash) use
 * keys with a `:` (`template:/etc/motd`, stored as `template%3A%2Fetc%2Fmotd`),
 * which task ids cannot contain.
 */
export const STAMP_DIR = '/var/lib/fettle/stamps';

/** What a stamp records: when the task last completed, and the hash it had then. */
export interface Stamp {
  /** Completion time, epoch milliseconds on the controller's clock. */
  readonly ran: number;
  /** The task's hash when it ran; null when it has none. */
  readonly hash: string | null;
  /** sha256 of what the stamped step wrote (a template's rendered file), to tell a hand edit without rendering. */
  readonly output?: string | undefined;
}

// Host names come from inventories; keep them to one safe path segment.
function segment(value: string): string {
  return value === '.' || value === '..' ? encodeURIComponent(value).replace(/\./g, '%2E') : encodeURIComponent(value);
}

/** The item path of one stamp of one host, e.g. `/var/lib/fettle/stamps/web1/init-db`. */
export function stampPath(host: string, key: string): string {
  return path.posix.join(STAMP_DIR, segment(host), segment(key));
}

/** Parse a stamp file; a non-JSON file (written by hand) counts as a stamp with its mtime. */
export function parseStamp(content: string, mtimeSeconds: number): Stamp {
  try {
    const data = JSON.parse(content) as { ran?: unknown; hash?: unknown; output?: unknown };
    if (typeof data.ran === 'number' && Number.isFinite(data.ran)) {
      return { ran: data.ran, hash: typeof data.hash === 'string' ? data.hash : null, ...(typeof data.output === 'string' ? { output: data.output } : {}) };
    }
  } catch {
    // fall through: Carthage-style text stamp
  }
  const text = content.trim();
  return { ran: mtimeSeconds * 1000, hash: text === '' ? null : text };
}

/**
 * Read any number of stamps in one remote command. The session coalesces every
 * ask of one tick, so a host's stamps, however many tasks and templates ask, cost
 * one command (usually inside the same batch as the items' own facts).
 */
export const taskStamps = defineFact<string, Stamp | null>({
  name: 'fettle.stamps',
  key: (stamp) => stamp,
  command: (paths, env) =>
    // Per path: Y NUL mtime NUL content NUL, or N NUL NUL NUL.
    sh`set -- ${paths.map((p) => env.hostPath(p))}
for p do if [ -f "$p" ]; then printf 'Y\\0%s\\0' "$(stat -c %Y -- "$p" 2>/dev/null || echo 0)"; cat -- "$p" 2>/dev/null; printf '\\0'; else printf 'N\\0\\0\\0'; fi; done
exit 0`,
  parse(stdout, paths) {
    const fields = stdout.split('\0');
    return paths.map((p, index) => {
      const [flag, mtime, content] = fields.slice(index * 3, index * 3 + 3);
      if (flag === undefined || content === undefined) throw new Error(`fettle.stamps: truncated output at ${p}`);
      return flag === 'Y' ? parseStamp(content, Number(mtime) || 0) : null;
    });
  },
});

/** Shell command that writes a stamp atomically, creating its folder (content on stdin). */
export function stampWriteCommand(file: HostPath, folder: HostPath): Shell {
  // mktemp makes the file 0600: a hash may be derived from a secret.
  return sh`mkdir -p -- ${folder} && t=$(mktemp ${folder}/.stamp.XXXXXX) && cat >"$t" && mv -f -- "$t" ${file}`;
}

/** Write a stamp on the host (batched with other commands of the same tick). */
export async function writeStamp(context: ItemContext, stampItemPath: string, stamp: Stamp): Promise<void> {
  const body = JSON.stringify({ ran: stamp.ran, at: new Date(stamp.ran).toISOString(), hash: stamp.hash, ...(stamp.output === undefined ? {} : { output: stamp.output }) });
  await context.runChecked(stampWriteCommand(context.hostPath(stampItemPath), context.hostPath(path.posix.dirname(stampItemPath))), { stdin: `${body}\n` });
}
