import { randomBytes } from 'node:crypto';
import { FettleError, shellQuote, type ExecResult, type FileOwnership, type RemoteStat } from '@fettle/core';

/** Runs a command (already wrapped for become) with optional stdin. */
export type Runner = (command: string, stdin?: Buffer) => Promise<ExecResult>;

export interface FileOps {
  readFile(path: string): Promise<Buffer | null>;
  writeFile(path: string, data: string | Uint8Array, ownership?: FileOwnership): Promise<void>;
  stat(path: string): Promise<RemoteStat | null>;
}

/** Exit code meaning "no such file", apart from sh's own codes. */
const MISSING = 44;
/** One upload command carries at most this much (base64 grows it by a third). */
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * The upload script, in three steps so the cost per file stays at a few programs:
 * `w INDEX PATH MODE OWNER GROUP <<heredoc(base64)` decodes into a temp file beside the
 * target (created exclusively, named by the batch's random token), owner (before mode:
 * chown clears setuid bits) and mode, removing the temp file on any failure; then ONE
 * `sync` of every temp file; then each is renamed over its target. Every file reports
 * `INDEX CODE BASE64(stderr)`, so each succeeds or fails on its own.
 */
const uploadHead = (token: string): string => `ok=
s() { printf '%s %s %s\\n' "$1" "$2" "$(printf '%s' "$3" | base64 | tr -d '\\n')"; }
w() { i=$1; p=$2; t="\${p%/*}/.\${p##*/}.fettle-${token}-$i"
e=$( (set -eC; trap 'rm -f -- "$t"' EXIT; base64 -d > "$t"
if [ -n "$4$5" ]; then chown -- "$4\${5:+:$5}" "$t"; fi
chmod -- "$3" "$t"; trap - EXIT) 2>&1 ) && { ok="$ok $i"; eval "t_$i=\\$t p_$i=\\$p"; } || s "$i" "$?" "$e"; }`;

const UPLOAD_TAIL = `set --; for i in $ok; do eval "set -- \\"\\$@\\" \\"\\$t_$i\\""; done
if [ $# -gt 0 ]; then sync -- "$@" 2>/dev/null || sync; fi
for i in $ok; do eval "t=\\$t_$i p=\\$p_$i"
if e=$(mv -f -- "$t" "$p" 2>&1); then printf '%s 0 \\n' "$i"; else r=$?; rm -f -- "$t"; s "$i" "$r" "$e"; fi; done`;

const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;
// %f is the raw st_mode in hex; stat does not follow a symlink unless told to (-L).
const STAT_SCRIPT = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '%f %s' -- "$1"; else exit ${MISSING}; fi`;
const script = (body: string, path: string): string => `sh -c ${shellQuote(body)} sh ${shellQuote(path)}`;

interface PendingWrite {
  readonly args: readonly [path: string, mode: string, owner: string, group: string];
  readonly data: Buffer;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Files through commands. Writes asked for in the same tick travel together: one
 * `sh -s` whose stdin holds every file base64-encoded, each placed atomically, so a
 * cold apply of N files costs one command (more only past 8 MiB), never one per file.
 */
export function commandFiles(run: Runner, hostName: string): FileOps {
  const failure = (what: string, stderr: Buffer | string, code: number | null): FettleError =>
    new FettleError('E_TRANSPORT', `${what}: ${stderr.toString().trim() || `exit code ${String(code)}`}`, { where: `host ${hostName}` });

  const upload = async (writes: readonly PendingWrite[]): Promise<void> => {
    const lines = [uploadHead(randomBytes(6).toString('hex'))];
    writes.forEach((write, index) => {
      const end = `FETTLE_EOF_${randomBytes(8).toString('hex')}`;
      lines.push(`w ${index} ${write.args.map(shellQuote).join(' ')} <<'${end}'`, write.data.toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd(), end);
    });
    lines.push(UPLOAD_TAIL);
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
      if (!one) write.reject(failure(`cannot write ${write.args[0]}`, result.stderr, result.code));
      else if (one.code === 0) write.resolve();
      else write.reject(failure(`cannot write ${write.args[0]}`, one.stderr, one.code));
    });
  };

  let queue: PendingWrite[] = [];
  const flush = (): void => {
    const writes = queue;
    queue = [];
    let batch: PendingWrite[] = [];
    let size = 0;
    for (const write of writes) {
      if (batch.length > 0 && size + write.data.length > BATCH_BYTES) {
        void upload(batch);
        batch = [];
        size = 0;
      }
      batch.push(write);
      size += write.data.length;
    }
    if (batch.length > 0) void upload(batch);
  };

  return {
    writeFile(path, data, ownership = {}) {
      const mode = parseMode(ownership.mode, hostName);
      return new Promise<void>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ args: [path, mode, ownership.owner ?? '', ownership.group ?? ''], data: Buffer.from(data), resolve, reject });
      });
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
      const raw = Number.parseInt(match[1], 16);
      return { type: typeOfMode(raw), size: Number(match[2]), mode: (raw & 0o7777).toString(8).padStart(4, '0') };
    },
  };
}

/** `'0644'`, `'644'`, `'4755'` → `'0644'` …; new files get 0644 unless the item says otherwise. */
function parseMode(mode: string | undefined, hostName: string): string {
  if (mode === undefined) return '0644';
  if (!/^[0-7]{3,4}$/.test(mode)) {
    throw new FettleError('E_ATTRIBUTE', `invalid file mode ${JSON.stringify(mode)}`, { where: `host ${hostName}`, expected: 'an octal mode such as 0644' });
  }
  return mode.padStart(4, '0');
}

function typeOfMode(mode: number): RemoteStat['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}
