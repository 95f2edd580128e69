import { randomBytes } from 'node:crypto';
import { FettleError, shellQuote, type ExecResult, type FileOwnership, type RemoteStat } from '@fettle/core';
import { parseMode, typeOfMode } from './modes.js';

/** The file half of a Transport. */
export interface FileOps {
  readFile(path: string): Promise<Buffer | null>;
  writeFile(path: string, data: string | Uint8Array, ownership?: FileOwnership): Promise<void>;
  stat(path: string): Promise<RemoteStat | null>;
}

/** Runs a command (already wrapped for become) with optional stdin. */
export type Runner = (command: string, stdin?: Buffer) => Promise<ExecResult>;

/** Exit code meaning "no such file", chosen so it cannot be confused with sh's own codes. */
const MISSING = 44;
/** Files up to this size share one command with others written in the same tick. */
const BATCH_FILE_LIMIT = 1024 * 1024;
const BATCH_TOTAL_LIMIT = 8 * 1024 * 1024;

/**
 * Atomic placement of one file whose content is on stdin: temp file beside the
 * target (mktemp), owner, mode, fsync, rename over the target. The trap removes
 * the temp file on any failure, so a failed write leaves nothing behind.
 */
const PLACE = [
  'set -e',
  'p=$1; d=$(dirname -- "$p"); b=$(basename -- "$p")',
  't=$(mktemp "$d/.$b.fettle-tmp-XXXXXX")',
  `trap 'rm -f -- "$t"' EXIT`,
  // A hang-up (the connection died) exits through the EXIT trap instead of leaving the temp file.
  `trap 'exit 129' HUP INT TERM PIPE`,
  'DECODE > "$t"',
  // Content cut short (stdin ended early when the connection died) never replaces the target.
  '[ "$(wc -c <"$t")" -eq "$5" ] || { echo "short write: $(wc -c <"$t") of $5 bytes arrived" >&2; exit 1; }',
  'if [ -n "$3$4" ]; then chown -- "$3${4:+:$4}" "$t"; fi', // before chmod: chown clears setuid bits
  'chmod -- "$2" "$t"',
  'sync -- "$t" 2>/dev/null || sync',
  'mv -f -- "$t" "$p"',
  'trap - EXIT',
].join('\n');

const WRITE_ONE = PLACE.replace('DECODE', 'cat');
/** `w INDEX PATH MODE OWNER GROUP <<heredoc(base64)` prints `INDEX CODE BASE64(stderr)`. */
const WRITE_MANY_HEAD = `w() { i=$1; shift; e=$( (${PLACE.replace('DECODE', 'base64 -d')}) 2>&1 ); r=$?; printf '%s %s %s\\n' "$i" "$r" "$(printf '%s' "$e" | base64 | tr -d '\\n')"; }`;

const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;
// %f is the raw st_mode in hex; stat does not follow a symlink unless told to (-L).
const STAT_SCRIPT = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '%f %s' -- "$1"; else exit ${MISSING}; fi`;

const script = (body: string, ...args: string[]): string => `sh -c ${shellQuote(body)} sh ${args.map(shellQuote).join(' ')}`;

interface PendingWrite {
  readonly args: [path: string, mode: string, owner: string, group: string, size: string];
  readonly data: Buffer;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * File operations through commands: used under become (SFTP runs as the login
 * user) and when a server has no SFTP. Writes made in the same tick share one
 * command, so a cold apply of N files stays one round trip here too.
 */
export function execFiles(run: Runner, hostName: string): FileOps {
  const where = { where: `host ${hostName}` };
  const failure = (what: string, stderr: Buffer | string, code: number | null): FettleError =>
    new FettleError('E_TRANSPORT', `${what}: ${stderr.toString().trim() || `exit code ${String(code)}`}`, where);

  let queue: PendingWrite[] = [];
  const flush = async (writes: PendingWrite[]): Promise<void> => {
    if (writes.length === 1) {
      const [only] = writes as [PendingWrite];
      try {
        const result = await run(script(WRITE_ONE, ...only.args), only.data);
        if (result.code === 0) only.resolve();
        else only.reject(failure(`cannot write ${only.args[0]}`, result.stderr, result.code));
      } catch (error) {
        only.reject(error);
      }
      return;
    }
    const lines = [WRITE_MANY_HEAD];
    writes.forEach((write, index) => {
      const end = `FETTLE_EOF_${randomBytes(8).toString('hex')}`;
      lines.push(`w ${index} ${write.args.map(shellQuote).join(' ')} <<'${end}'`, write.data.toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd(), end);
    });
    let result: ExecResult;
    try {
      result = await run('sh -s', Buffer.from(`${lines.join('\n')}\n`));
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    const status = new Map<number, { code: number; stderr: string }>();
    for (const line of result.stdout.toString('utf8').split('\n')) {
      const match = /^(\d+) (\d+) ?(\S*)$/.exec(line);
      if (match) status.set(Number(match[1]), { code: Number(match[2]), stderr: Buffer.from(match[3] ?? '', 'base64').toString('utf8') });
    }
    writes.forEach((write, index) => {
      const one = status.get(index);
      if (!one) return write.reject(failure(`cannot write ${write.args[0]}`, result.stderr, result.code));
      if (one.code === 0) write.resolve();
      else write.reject(failure(`cannot write ${write.args[0]}`, one.stderr, one.code));
    });
  };
  const schedule = (write: PendingWrite): void => {
    if (queue.length === 0) {
      setImmediate(() => {
        const writes = queue;
        queue = [];
        // Keep each command's script bounded; big files travel alone, as raw stdin.
        let batch: PendingWrite[] = [];
        let size = 0;
        for (const next of writes) {
          if (next.data.length > BATCH_FILE_LIMIT) {
            void flush([next]);
            continue;
          }
          if (size + next.data.length > BATCH_TOTAL_LIMIT && batch.length > 0) {
            void flush(batch);
            batch = [];
            size = 0;
          }
          batch.push(next);
          size += next.data.length;
        }
        if (batch.length > 0) void flush(batch);
      });
    }
    queue.push(write);
  };

  return {
    writeFile(path, data, ownership = {}) {
      const mode = parseMode(ownership.mode, hostName).toString(8).padStart(4, '0');
      const bytes = Buffer.from(data);
      return new Promise<void>((resolve, reject) =>
        schedule({ args: [path, mode, ownership.owner ?? '', ownership.group ?? '', String(bytes.length)], data: bytes, resolve, reject }),
      );
    },
    async readFile(path) {
      const result = await run(script(READ_SCRIPT, path));
      if (result.code === MISSING) return null;
      if (result.code !== 0) throw failure(`cannot read ${path}`, result.stderr, result.code);
      return result.stdout;
    },
    async stat(path) {
      const result = await run(script(STAT_SCRIPT, path));
      if (result.code === MISSING) return null;
      const match = /^([0-9a-f]+) (\d+)\s*$/.exec(result.stdout.toString('utf8'));
      if (result.code !== 0 || !match?.[1] || !match[2]) throw failure(`cannot stat ${path}`, result.stderr, result.code);
      const mode = Number.parseInt(match[1], 16);
      return { type: typeOfMode(mode), size: Number(match[2]), mode: (mode & 0o7777).toString(8).padStart(4, '0') };
    },
  };
}
