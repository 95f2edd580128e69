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

/**
 * Atomic write in one command: temp file beside the target (mktemp), content from
 * stdin, owner, mode, fsync, then rename over the target. The trap removes the temp
 * file on any failure, so a failed write leaves nothing behind.
 */
const WRITE_SCRIPT = [
  'set -e',
  'p=$1; d=$(dirname -- "$p"); b=$(basename -- "$p")',
  't=$(mktemp "$d/.$b.fettle-XXXXXX")',
  `trap 'rm -f -- "$t"' EXIT`,
  'cat > "$t"',
  'if [ -n "$3$4" ]; then chown -- "$3${4:+:$4}" "$t"; fi', // before chmod: chown clears setuid bits
  'chmod -- "$2" "$t"',
  'sync -- "$t" 2>/dev/null || sync',
  'mv -f -- "$t" "$p"',
  'trap - EXIT',
].join('\n');

const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;
// %f is the raw st_mode in hex; stat does not follow a symlink unless told to (-L).
const STAT_SCRIPT = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '%f %s' -- "$1"; else exit ${MISSING}; fi`;

const script = (body: string, ...args: string[]): string => `sh -c ${shellQuote(body)} sh ${args.map(shellQuote).join(' ')}`;

/** File operations through commands: used under become (SFTP runs as the login user) and when a server has no SFTP. */
export function execFiles(run: Runner, hostName: string): FileOps {
  const failure = (what: string, result: ExecResult): FettleError =>
    new FettleError('E_TRANSPORT', `${what}: ${result.stderr.toString('utf8').trim() || `exit code ${String(result.code)}`}`, { where: `host ${hostName}` });
  return {
    async writeFile(path: string, data: string | Uint8Array, ownership: FileOwnership = {}): Promise<void> {
      const mode = parseMode(ownership.mode, hostName).toString(8).padStart(4, '0');
      const result = await run(script(WRITE_SCRIPT, path, mode, ownership.owner ?? '', ownership.group ?? ''), Buffer.from(data));
      if (result.code !== 0) throw failure(`cannot write ${path}`, result);
    },
    async readFile(path: string): Promise<Buffer | null> {
      const result = await run(script(READ_SCRIPT, path));
      if (result.code === MISSING) return null;
      if (result.code !== 0) throw failure(`cannot read ${path}`, result);
      return result.stdout;
    },
    async stat(path: string): Promise<RemoteStat | null> {
      const result = await run(script(STAT_SCRIPT, path));
      if (result.code === MISSING) return null;
      const match = /^([0-9a-f]+) (\d+)\s*$/.exec(result.stdout.toString('utf8'));
      if (result.code !== 0 || !match?.[1] || !match[2]) throw failure(`cannot stat ${path}`, result);
      const mode = Number.parseInt(match[1], 16);
      return { type: typeOfMode(mode), size: Number(match[2]), mode: (mode & 0o7777).toString(8).padStart(4, '0') };
    },
  };
}
