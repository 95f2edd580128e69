// The shell side of the atomic writes (tar-writes.ts): the script one batch runs on the host,
// and the report it prints, read back.
import path from 'node:path';
import { shellQuote, type LocalFile } from '@fettle/core';

export interface PendingWrite {
  readonly target: string;
  /** In memory, or a controller file streamed into the archive as it is sent. */
  readonly data: Buffer | LocalFile;
  /** The same data as the string it was given as, when that string can travel as script text (see `isInlineText`). */
  readonly text?: string | undefined;
  readonly mode: string;
  readonly owner: string | undefined;
  readonly group: string | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** The writes of one target folder: extracted into one temp folder there, renamed into place by one `mv`. */
export interface Group {
  readonly dir: string;
  readonly temp: string;
  readonly writes: PendingWrite[];
}

/**
 * The script of one batch. It prints `G GROUP REASON` for a folder that failed,
 * `F FILE REASON` for one file that failed, `E - REASON` when nothing can be said
 * per file, then `A` (stopped before extracting: the rest may be sent again) or
 * `D` (done: every file not named is in place).
 */
export function writeScript(groups: readonly Group[], inline = false): string {
  const q = shellQuote;
  const temps = groups.map((_group, index) => `"$t${index}"`).join(' ');
  const lines = [
    'LC_ALL=C; export LC_ALL; umask 077',
    ...groups.map((group, index) => `t${index}=${q(group.temp)}; k${index}=1`),
    `trap 'rm -rf -- ${temps}' EXIT`,
    // A hang-up (the connection died) exits through the EXIT trap instead of leaving the temp folders.
    "trap 'exit 129' HUP INT TERM PIPE",
    // Every reported failure also fails the command: a batch's later stages (what is under these files) do not run.
    `x() { bad=1; printf '%s %s %s\\n' "$1" "$2" "$(printf '%s' "$3" | tr '\\n' ' ')"; }`,
    `if ! mkdir -m 700 -- ${temps} 2>/dev/null; then`,
    ...groups.map((_group, index) => `  [ -d "$t${index}" ] || x G ${index} "$(mkdir -m 700 -- "$t${index}" 2>&1)"`),
    // The tar stream is drained so its writer is not cut off; inline, the rest of stdin is this script.
    inline ? '  echo A; exit 3' : '  echo A; cat >/dev/null; exit 3',
    'fi',
    ...(inline ? inlineLines(groups) : extractLines(groups)),
  ];
  let fileIndex = 0;
  const indexes = groups.map((group) => group.writes.map(() => fileIndex++));
  groups.forEach((group, index) => {
    const file = (write: PendingWrite): string => `"$t${index}"/${q(path.posix.basename(write.target))}`;
    const steps: string[] = [];
    for (const [spec, writes] of bucket(group.writes, (write) => (write.owner === undefined && write.group === undefined ? '' : `${write.owner ?? ''}${write.group === undefined ? '' : `:${write.group}`}`))) {
      if (spec !== '') steps.push(`chown -- ${q(spec)} ${writes.map(file).join(' ')}`);
    }
    // A mode no umask can give (the script's own files) or that chown would clear (tar's) is set here, after chown.
    const special = group.writes.filter((write) => (inline ? !byUmask(write.mode) : !plainMode(write.mode)));
    for (const [mode, writes] of bucket(special, (write) => write.mode)) steps.push(`chmod -- ${mode} ${writes.map(file).join(' ')}`);
    if (steps.length > 0) lines.push(`[ -z "$k${index}" ] || e=$( { ${steps.join(' && ')}; } 2>&1) || { x G ${index} "$e"; k${index}=; }`);
  });
  // One syncfs per folder's file system flushes every file before any rename (one journal commit, not one per file).
  // Measured against `sync -- FILES` (an fsync per file, as the bench's cold floor does) on ext4, 8 hosts × 100
  // files: syncfs was faster on a busy machine, and also with another process writing 48 MiB every 0.3 s (ordered
  // mode makes each fsync's commit wait for that data too, 100 times over instead of once).
  lines.push('set --');
  groups.forEach((_group, index) => lines.push(`[ -z "$k${index}" ] || set -- "$@" "$t${index}"`));
  lines.push('[ $# -eq 0 ] || sync -f -- "$@" 2>/dev/null || sync');
  groups.forEach((group, index) => {
    const names = group.writes.map((write) => q(path.posix.basename(write.target)));
    lines.push(
      `if [ -n "$k${index}" ] && ! e=$(mv -f -- ${names.map((name) => `"$t${index}"/${name}`).join(' ')} ${q(group.dir)} 2>&1); then`,
      ...names.map((name, at) => `  if [ -e "$t${index}"/${name} ] || [ -L "$t${index}"/${name} ]; then x F ${String(indexes[index]?.[at])} "$e"; fi`),
      'fi',
    );
  });
  lines.push('echo D', '[ -z "$bad" ]');
  return lines.join('\n');
}

/** A mode without setuid, setgid or sticky bits: chown leaves it as it is, so tar may set it at extraction. */
function plainMode(mode: string): boolean {
  return (Number.parseInt(mode, 8) & 0o7000) === 0;
}

/** A mode a file gets at creation from the umask (0666 & ~umask): no x bits, no setuid/setgid/sticky. */
export function byUmask(mode: string): boolean {
  return (Number.parseInt(mode, 8) & 0o7111) === 0;
}

/**
 * The mode a file is extracted with: its own when plain (one chmod fewer on the host),
 * else 0600 until chmod sets it after chown, which would clear setuid and setgid bits.
 * Either way no one else can read it before the rename: its temp folder is 0700.
 */
export function extractMode(write: PendingWrite): number {
  return plainMode(write.mode) ? Number.parseInt(write.mode, 8) : 0o600;
}

/** Extract the tar stream into the temp folders; a failure is the folder's (named in tar's message) or the batch's. */
function extractLines(groups: readonly Group[]): string[] {
  const q = shellQuote;
  return [
    'if ! e=$(tar -x -o -p -m -f - -C / 2>&1); then',
    '  f=',
    // GNU tar reports a full disk as a short write, without the OS reason: ask the file system.
    ...groups.map((group, index) => `  case $e in *${q(`${group.temp.replace(/^\/+/, '')}/`)}*) case $e in *'Wrote only'*) ${noSpace(index)};; esac; x G ${index} "$e"; k${index}=; f=1;; esac`),
    '  [ -n "$f" ] || { x E - "$e"; exit 3; }',
    'fi',
  ];
}

/** Write each folder's files with the shell's own printf; a failure (a full disk, say) fails the folder, nothing of it is renamed. */
function inlineLines(groups: readonly Group[]): string[] {
  const q = shellQuote;
  return groups.map((group, index) => {
    let umask = '';
    const writes = group.writes.map((write) => {
      // The file is created with its mode when a umask can say it (no x, setuid, setgid or sticky bit): no chmod.
      const wanted = byUmask(write.mode) ? (0o777 & ~Number.parseInt(write.mode, 8)).toString(8).padStart(3, '0') : '077';
      const set = wanted === umask ? '' : `umask ${wanted} && `;
      umask = wanted;
      return `${set}printf %s ${q(write.text ?? (write.data as Buffer).toString('utf8'))} >"$t${index}"/${q(path.posix.basename(write.target))}`;
    });
    // dash says only "I/O error" when a write hits a full disk: ask the file system.
    return `e=$( { ${writes.join(' &&\n')}; } 2>&1) || { ${noSpace(index)}; x G ${index} "$e"; k${index}=; }`;
  });
}

const noSpace = (index: number): string => `[ "$(stat -f -c %a -- "$t${index}" 2>/dev/null)" != 0 ] || e="$e: No space left on device"`;

function bucket<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

export interface Report {
  readonly groups: Map<number, string>;
  readonly files: Map<number, string>;
  general: string | undefined;
  done: boolean;
  abandoned: boolean;
}

export function parseReport(stdout: string): Report {
  const report: Report = { groups: new Map(), files: new Map(), general: undefined, done: false, abandoned: false };
  for (const line of stdout.split('\n')) {
    if (line === 'D') report.done = true;
    else if (line === 'A') report.abandoned = true;
    const match = /^([GFE]) (\S+) (.*)$/.exec(line);
    if (!match) continue;
    const [, kind, index, reason = ''] = match;
    if (kind === 'G') report.groups.set(Number(index), reason.trim());
    else if (kind === 'F') report.files.set(Number(index), reason.trim());
    else report.general = reason.trim();
  }
  return report;
}

