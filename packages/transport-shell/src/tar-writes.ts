import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isLocalFile, isUnreachableError, shellQuote, type BatchLink, type ExecResult, type FileOwnership, type LocalFile } from '@fettle/core';
import { tarArchive, tarPayload, type Payload, type TarEntry } from './tar.js';
import { parseMode, writeError } from './write-errors.js';
import { extractMode, parseReport, writeScript, type Group, type PendingWrite } from './write-script.js';

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
