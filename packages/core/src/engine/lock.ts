import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { arg, sh, type HostPath, type Shell } from '../protocols/shell.js';
import { FettleError } from '../errors.js';
import type { BuiltItem } from './items.js';

/** fettle's state folder on a host (before the transport root): stamps, the hard lock, soft locks. */
export const STATE_DIR = '/var/lib/fettle';
const HARD = `${STATE_DIR}/lock`;
const SOFT = `${STATE_DIR}/soft-locks`;

/** What the lock commands need from an item context or a fact env: the path mapping. */
export interface PathMapping {
  hostPath(path: string): HostPath;
}

/** Who holds a lock: named so a refused user knows whom to ask. */
export interface LockHolder {
  /** `user@controller`. */
  readonly user: string;
  /** Epoch ms. */
  readonly started: number;
  readonly pid: number;
  readonly comment: string;
  /** Epoch ms after which the lock no longer counts. */
  readonly expires: number;
}

/** A soft lock (BundleWrap's): items matching `items` are left alone by other users' applies. */
export interface SoftLock extends LockHolder {
  readonly id: string;
  /** Item id globs (`file:/etc/*`), `tag:NAME`, or `*` for every item. */
  readonly items: readonly string[];
}

/** The controller's identity: `$FETTLE_USER`, else `user@hostname`. */
export function lockIdentity(): string {
  return process.env['FETTLE_USER'] ?? `${os.userInfo().username}@${os.hostname()}`;
}

const when = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** `alice@ctl since 2026-…Z, pid 123 ("deploying")`. */
export function describeHolder(holder: LockHolder): string {
  return `${holder.user} since ${when(holder.started)}, pid ${String(holder.pid)}${holder.comment ? ` ("${holder.comment}")` : ''}, expires ${when(holder.expires)}`;
}

/** `30s`, `15m`, `8h`, `2d`, `1w` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw new FettleError('E_ARGUMENT', `bad duration '${text}'`, { expected: 'a number and a unit: 30s, 15m, 8h, 2d, 1w' });
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(match[1]) * unit * 1000;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Whether a soft lock's pattern covers an item: `*`, `tag:NAME`, or a glob on the item id. */
export function lockCovers(pattern: string, item: Pick<BuiltItem, 'id' | 'common'>): boolean {
  if (pattern.startsWith('tag:')) return (item.common.tags ?? []).includes(pattern.slice(4));
  return globToRegExp(pattern).test(item.id);
}

function parseRecords<T>(text: string): T[] {
  const records: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      // a half-written or hand-edited record is not a lock anyone can name
    }
  }
  return records;
}

/** What taking the lock found: taken (perhaps over an expired or forced holder), or refused by a live holder. */
export type TakeOutcome = { readonly taken: true; readonly overridden?: LockHolder | undefined } | { readonly taken: false; readonly holder: LockHolder };

/**
 * One shell command that takes the host's hard lock: mkdir is atomic, so two
 * controllers cannot both succeed. An expired lock is taken over; `force` takes
 * over a live one. A lock just made gets its holder record written in place (a
 * reader racing it sees no record yet, which `parseTakeOutput` names as such); a
 * lock taken over gets it by temp + rename, so no reader sees half of it. A lock
 * made whose record cannot be written is removed again (exit 1), not left to refuse
 * every later run.
 * Exit 0: taken; 3: refused (the holder is printed); anything else: could not try.
 * A non-zero exit is what stops the rest of a batch it guards. It costs the host
 * two mkdir and nothing else when the lock is free: it heads every cold apply.
 */
export function takeLockCommand(context: PathMapping, holder: LockHolder & { token: string }, force: boolean): Shell {
  const record = arg(JSON.stringify(holder));
  return sh`d=${context.hostPath(HARD)}; [ -d ${context.hostPath(STATE_DIR)} ] || mkdir -p -- ${context.hostPath(STATE_DIR)} || exit 1
if mkdir -- "$d" 2>/dev/null; then printf '%s\\n' ${record} >"$d/holder" && echo 'took yes' && exit 0; rm -rf -- "$d"; exit 1; fi
h=$(cat -- "$d/holder" 2>/dev/null); printf 'held %s\\n' "$h"
e=$(printf '%s' "$h" | sed -n 's/.*"expires":\\([0-9]*\\).*/\\1/p'); now=$(($(date +%s) * 1000))
if [ ${force ? 1 : 0} = 1 ] || { [ -n "$e" ] && [ "$e" -lt "$now" ]; }; then
  printf '%s\\n' ${record} >"$d/holder.$$" && mv -f -- "$d/holder.$$" "$d/holder" && echo 'took over' && exit 0
fi
exit ${arg(String(TAKE_REFUSED))}`;
}

/** The take command's exit code when a live holder refused it. */
export const TAKE_REFUSED = 3;

export function parseTakeOutput(stdout: string): TakeOutcome {
  const lines = stdout.split('\n');
  const took = lines.find((line) => line.startsWith('took '));
  const heldLine = lines.find((line) => line.startsWith('held '));
  const held = heldLine ? parseRecords<LockHolder>(heldLine.slice(5))[0] : undefined;
  if (!took) return { taken: false, holder: held ?? { user: 'unknown (no holder record yet)', started: 0, pid: 0, comment: '', expires: 0 } };
  return { taken: true, overridden: took === 'took over' ? held : undefined };
}

/** Release the hard lock, only if it is still ours (a forced takeover made it someone else's). */
export function unlockCommand(context: PathMapping, token: string): Shell {
  // rmdir removes only empty folders: a sandbox root is left as it was, a real /var/lib stays.
  const parents = ['/var/lib/fettle', '/var/lib', '/var'].map((folder) => context.hostPath(folder));
  // The holder record is one line: read by the shell itself, not by grep (one process fewer on every apply).
  return sh`d=${context.hostPath(HARD)}; h=; { IFS= read -r h <"$d/holder"; } 2>/dev/null
case $h in *${arg(`"token":"${token}"`)}*) rm -rf -- "$d"; rmdir -- ${parents} 2>/dev/null;; esac; exit 0`;
}

/** A new hard-lock holder record for this run. */
export function newHolder(comment = '', ttlMs = 4 * 3600 * 1000): LockHolder & { token: string } {
  const started = Date.now();
  return { user: lockIdentity(), started, pid: process.pid, comment, expires: started + ttlMs, token: randomBytes(8).toString('hex') };
}

/** Soft locks: add, remove, list (`fettle lock`), each one command per host. */
export function softLockAddCommand(context: PathMapping, lock: SoftLock): Shell {
  const file = context.hostPath(path.posix.join(SOFT, lock.id));
  const temp = context.hostPath(path.posix.join(SOFT, `${lock.id}.tmp`));
  return sh`mkdir -p -- ${context.hostPath(SOFT)} && printf '%s\\n' ${arg(JSON.stringify(lock))} >${temp} && mv -f -- ${temp} ${file}`;
}

export function softLockRemoveCommand(context: PathMapping, id: string): Shell {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new FettleError('E_ARGUMENT', `bad lock id '${id}'`, { expected: 'an id as `fettle lock show` prints it' });
  const file = context.hostPath(path.posix.join(SOFT, id));
  return sh`if [ -f ${file} ]; then rm -f -- ${file}; echo removed; fi`;
}

export function lockShowCommand(context: PathMapping): Shell {
  const dir = context.hostPath(HARD);
  return sh`[ -f ${dir}/holder ] && { printf 'held '; cat -- ${dir}/holder; echo; }; for f in ${context.hostPath(SOFT)}/*; do [ -f "$f" ] && { printf 'soft '; cat -- "$f"; echo; }; done; exit 0`;
}

export function parseLockShow(stdout: string): { hard: LockHolder | undefined; soft: SoftLock[] } {
  const lines = stdout.split('\n');
  const hard = parseRecords<LockHolder>(lines.filter((line) => line.startsWith('held ')).map((line) => line.slice(5)).join('\n'))[0];
  const soft = parseRecords<SoftLock>(lines.filter((line) => line.startsWith('soft ')).map((line) => line.slice(5)).join('\n'));
  return { hard, soft };
}

/** Why another user's soft lock keeps an item untouched, or undefined. Own and expired locks do not count. */
export function softLockHold(soft: readonly SoftLock[], now = Date.now()): (item: BuiltItem) => string | undefined {
  const me = lockIdentity();
  const others = soft.filter((lock) => lock.user !== me && lock.expires > now);
  return (item) => {
    const lock = others.find((candidate) => candidate.items.some((pattern) => lockCovers(pattern, item)));
    return lock ? `soft-locked by ${describeHolder(lock)} (lock ${lock.id})` : undefined;
  };
}
