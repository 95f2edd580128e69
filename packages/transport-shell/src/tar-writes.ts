import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { FettleError, isLocalFile, isUnreachableError, shellQuote, type BatchLink, type ExecResult, type FileOwnership, type LocalFile } from '@fettle/core';
import { tarArchive, tarPayload, type Payload, type TarEntry } from './tar.js';

/** Runs a command (already wrapped for become) with optional stdin (bytes, or a stream: see `sendPayload`). */
export type Runner = (command: string, stdin?: Payload) => Promise<ExecResult>;

/** The mark in the name of every temp folder (and file) fettle creates beside a target: `.NAME.fettle-tmp-RANDOM`. */
export const TEMP_MARK = '.fettle-tmp-';

/** One command carries at most this much file data, this many files, this much script. */
const BATCH_BYTES = 32 * 1024 * 1024;
const BATCH_FILES = 1000;
const SCRIPT_BYTES = 64 * 1024;
/** A text file up to this size (UTF-8, no NUL byte) is written by the script itself, no tar; this much such text per command. */
const INLINE_FILE_BYTES = 64 * 1024;
const INLINE_BATCH_BYTES = 1024 * 1024;
/** A batch stopped before extracting is sent again without its failed folders, at most this often in all. */
const MAX_ATTEMPTS = 3;

export interface TarWriterOptions {
  readonly hostName: string;
  /** A temp folder the connection's loss left behind: swept at the next contact. */
  readonly leftover?: ((remotePath: string) => void) | undefined;
  /** The user commands run as, for hints (become helps only when it is not root). */
  readonly user?: string | undefined;
  /**
   * Rejects (with an UnreachableError) when the connection is gone: asked when the
   * command died of a signal, which is how a killed connection often looks first.
   */
  readonly alive?: (() => Promise<unknown>) | undefined;
}

interface PendingWrite {
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
interface Group {
  readonly dir: string;
  readonly temp: string;
  readonly writes: PendingWrite[];
}

/**
 * Atomic writes through one command per batch: every write asked for in the same
 * tick travels in ONE tar stream on the command's stdin, except small text files,
 * which travel inside a script read from stdin (`sh -s`) that writes them with the
 * shell's printf (no tar, no base64, a tenth of the bytes). Per target folder, the
 * script makes a private temp folder (`.files.fettle-tmp-RANDOM`, 0700, so content
 * is never readable by others, secrets included), extracts (with each file's mode, when
 * it has no setuid/setgid/sticky bits), sets the owner, then any other mode (chown clears
 * setuid bits), flushes every file with one `sync -f` (syncfs), renames the files
 * of each folder with one `mv`, and removes the temp folders (a trap does it on
 * any failure or hang-up). A constant number of processes per folder, not per file.
 */
export function tarWriter(run: Runner, options: TarWriterOptions): (target: string, data: string | Uint8Array | LocalFile, ownership?: FileOwnership) => Promise<void> {
  const { hostName } = options;
  let queue: PendingWrite[] = [];

  const flush = (): void => {
    const writes = queue;
    queue = [];
    // Small text files travel in the script itself, the rest in a tar stream: one command each.
    const inline = writes.filter(isInlineText);
    const archived = writes.filter((write) => !isInlineText(write));
    for (const batch of intoBatches(inline, INLINE_BATCH_BYTES)) void send(batch, 1, true);
    for (const batch of intoBatches(archived)) void send(batch);
  };

  const send = async (writes: readonly PendingWrite[], attempt = 1, inline = false): Promise<void> => {
    const token = randomBytes(6).toString('hex');
    const groups = groupByFolder(writes, token);
    const script = writeScript(groups, inline);
    // Inline, the script ends its last line: a batch passes such text on as a here-document, no base64.
    const payload = inline ? { stdin: Buffer.from(`${script}\n`, 'utf8'), failure: (): Error | undefined => undefined } : tarPayload(tarArchive(tarEntries(groups)));
    let result: ExecResult;
    try {
      // Inline, the script (with the files' text) is the command's stdin, never its arguments: `ps` shows no content.
      result = await run(inline ? 'sh -s' : `sh -c ${shellQuote(script)}`, payload.stdin);
      if (result.code === null) await options.alive?.();
    } catch (error) {
      // The command may have died half way (connection lost): its temp folders are swept at the next contact.
      if (isUnreachableError(error)) for (const group of groups) options.leftover?.(group.temp);
      for (const write of writes) write.reject(error);
      return;
    }
    const report = parseReport(result.stdout.toString('utf8'));
    // A local file that could not be sent cut the archive short: that is the reason, not tar's "unexpected EOF".
    const stderr = payload.failure()?.message ?? result.stderr.toString('utf8').trim();
    if (payload.failure()) report.general = stderr;
    const failWith = (write: PendingWrite, reason: string): void => write.reject(writeError(write.target, reason, hostName, options.user));
    if (!report.done && !report.abandoned) {
      const reason = report.general ?? (stderr || `the write command exited ${String(result.code ?? result.signal)}`);
      if (result.code === null) for (const group of groups) options.leftover?.(group.temp);
      for (const write of writes) failWith(write, reason);
      return;
    }
    const retry: PendingWrite[] = [];
    let fileIndex = 0; // numbered as writeScript numbers them: folder by folder
    groups.forEach((group, groupIndex) => {
      const groupReason = report.groups.get(groupIndex);
      group.writes.forEach((write) => {
        const fileReason = report.files.get(fileIndex++);
        if (groupReason !== undefined) failWith(write, groupReason);
        else if (report.abandoned && attempt < MAX_ATTEMPTS) retry.push(write);
        else if (report.abandoned) failWith(write, stderr || 'a temp folder could not be made');
        else if (fileReason !== undefined) failWith(write, fileReason);
        else write.resolve();
      });
    });
    // A folder that could not take a temp folder stopped the batch before extraction
    // (tar would have created the missing folder); the others go again, without it.
    if (retry.length > 0) void send(retry, attempt + 1, inline);
  };

  return (target, data, ownership = {}) =>
    new Promise<void>((resolve, reject) => {
      const mode = parseMode(ownership.mode, hostName);
      if (queue.length === 0) setImmediate(flush);
      const text = typeof data === 'string' && isScriptText(data) ? data : undefined;
      queue.push({ target, data: isLocalFile(data) ? data : Buffer.from(data), text, mode, owner: ownership.owner, group: ownership.group, resolve, reject });
    });
}

/** Split one tick's writes into bounded batches; a second write to the same path waits for the next batch. */
function intoBatches(writes: readonly PendingWrite[], maxBytes = BATCH_BYTES): PendingWrite[][] {
  const batches: PendingWrite[][] = [];
  let rest = [...writes];
  while (rest.length > 0) {
    const batch: PendingWrite[] = [];
    const later: PendingWrite[] = [];
    const targets = new Set<string>();
    let bytes = 0;
    let script = 0;
    for (const write of rest) {
      const cost = 4 * (write.target.length + 16);
      const size = isLocalFile(write.data) ? write.data.size : write.data.length;
      const full = batch.length > 0 && (bytes + size > maxBytes || batch.length >= BATCH_FILES || script + cost > SCRIPT_BYTES);
      if (full || targets.has(write.target)) later.push(write);
      else {
        batch.push(write);
        targets.add(write.target);
        bytes += size;
        script += cost;
      }
    }
    batches.push(batch);
    rest = later;
  }
  return batches;
}

function groupByFolder(writes: readonly PendingWrite[], token: string): Group[] {
  const groups = new Map<string, Group>();
  for (const write of writes) {
    const dir = path.posix.dirname(write.target);
    let group = groups.get(dir);
    if (!group) {
      group = { dir, temp: path.posix.join(dir, `.files${TEMP_MARK}${token}`), writes: [] };
      groups.set(dir, group);
    }
    group.writes.push(write);
  }
  return [...groups.values()];
}

/** The member name of a write: relative to `/`, inside its folder's temp folder. */
const member = (group: Group, write: PendingWrite): string => `${group.temp.replace(/^\/+/, '')}/${path.posix.basename(write.target)}`;

function tarEntries(groups: readonly Group[]): TarEntry[] {
  return groups.flatMap((group) => group.writes.map((write) => ({ name: member(group, write), data: write.data, mode: extractMode(write) })));
}

/**
 * Whether a write can travel as text in the script (`printf %s '…' >file`, a shell
 * builtin: no tar and no base64 process, and a tenth of the bytes of a tar of small
 * files): in memory, small, valid UTF-8 (the script is UTF-8) without NUL (which no
 * shell string can hold).
 */
function isInlineText(write: PendingWrite): boolean {
  const data = write.data;
  if (isLocalFile(data) || data.length > INLINE_FILE_BYTES) return false;
  if (write.text !== undefined) return true;
  return !data.includes(0) && Buffer.from(data.toString('utf8'), 'utf8').equals(data);
}

/** A string that is its own UTF-8 text in a script: no NUL, no surrogate (whose bytes would not say the same). */
function isScriptText(text: string): boolean {
  return !text.includes('\0') && !/[\uD800-\uDFFF]/.test(text);
}

/**
 * The script of one batch. It prints `G GROUP REASON` for a folder that failed,
 * `F FILE REASON` for one file that failed, `E - REASON` when nothing can be said
 * per file, then `A` (stopped before extracting: the rest may be sent again) or
 * `D` (done: every file not named is in place).
 */
function writeScript(groups: readonly Group[], inline = false): string {
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
function byUmask(mode: string): boolean {
  return (Number.parseInt(mode, 8) & 0o7111) === 0;
}

/**
 * The mode a file is extracted with: its own when plain (one chmod fewer on the host),
 * else 0600 until chmod sets it after chown, which would clear setuid and setgid bits.
 * Either way no one else can read it before the rename: its temp folder is 0700.
 */
function extractMode(write: PendingWrite): number {
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
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

interface Report {
  readonly groups: Map<number, string>;
  readonly files: Map<number, string>;
  general: string | undefined;
  done: boolean;
  abandoned: boolean;
}

function parseReport(stdout: string): Report {
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

/** OS reasons in the words fettle uses everywhere (`no space left on device`, …), else the program's own. */
export function osReason(output: string, target: string): { reason: string; hint?: string | undefined } {
  const dir = path.posix.dirname(target);
  const lines = output.split(/(?:\n|(?=\b(?:tar|mkdir|chown|chmod|mv|sync): ))/).map((line) => line.trim()).filter(Boolean);
  const line = lines.find((text) => text.includes(path.posix.basename(target))) ?? lines[0] ?? output.trim();
  const user = /invalid user: '([^':]*)/.exec(line);
  if (user) return { reason: `no user named '${user[1] ?? ''}'` };
  const group = /invalid group: '[^':]*:?([^']*)'/.exec(line);
  if (group) return { reason: `no group named '${group[1] ?? ''}'` };
  // A short write (tar) with the file system's answer appended by the script.
  if (/No space left on device/.test(line) || (/Wrote only/.test(line) && /No space left on device/.test(output))) return { reason: 'no space left on device' };
  if (/Read-only file system/.test(line)) return { reason: 'read-only file system' };
  if (/Permission denied|Operation not permitted/.test(line)) return { reason: 'permission denied' };
  if (/^mkdir: .*No such file or directory/.test(line)) return { reason: 'missing parent directory', hint: `create ${dir} first (a directory item)` };
  if (/^mkdir: .*Not a directory/.test(line)) return { reason: `${dir} is not a directory` };
  return { reason: line.replace(/^(?:tar|mkdir|chown|chmod|mv|sync): /, '') };
}

function writeError(target: string, output: string, hostName: string, user: string | undefined): FettleError {
  const { reason, hint } = osReason(output, target);
  let why = hint;
  if (reason === 'permission denied') {
    why =
      user === 'root'
        ? 'even root may not change it: is it immutable (lsattr; chattr -i) or on a read-only mount?'
        : `files are written as ${user ?? 'the login user'}; use become: 'sudo' for files it cannot write`;
  }
  return new FettleError('E_TRANSPORT', `cannot write ${target}: ${reason}`, { where: `host ${hostName}`, hint: why });
}

/** `'0644'`, `'644'`, `'4755'` → `'0644'` …; new files get 0644 unless the item says otherwise. */
export function parseMode(mode: string | undefined, hostName: string): string {
  if (mode === undefined) return '0644';
  if (!/^[0-7]{3,4}$/.test(mode)) {
    throw new FettleError('E_ATTRIBUTE', `invalid file mode ${JSON.stringify(mode)}`, { where: `host ${hostName}`, expected: 'an octal mode such as 0644' });
  }
  return mode.padStart(4, '0');
}

/**
 * A runner for `Transport.writeVia`: a write's command rides in the engine's batch
 * (its stdin, a script or a tar stream, in the batch script) when it is small enough; a larger or streamed
 * one follows that batch as a command of its own (`own`), only if the batch's gates
 * let it (the host lock's take, the fixes it depends on).
 */
export function batchRunner(link: BatchLink, own: Runner): Runner {
  return (command, stdin) => {
    if (stdin === undefined || (Buffer.isBuffer(stdin) && stdin.length <= link.maxStdin)) return link.run(command, stdin ?? Buffer.alloc(0));
    return link.follow(() => own(command, stdin));
  };
}
