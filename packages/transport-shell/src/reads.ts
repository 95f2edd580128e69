import { FettleError, shellQuote, type RemoteStat } from '@fettle/core';
import type { Runner } from './tar-writes.js';

/** The reading half of a Transport's files (writes always go through the tar writer). */
export interface FileReads {
  readFile(path: string): Promise<Buffer | null>;
  stat(path: string): Promise<RemoteStat | null>;
}

/** Exit code meaning "no such file", chosen so it cannot be confused with sh's own codes. */
const MISSING = 44;

const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;
// %f is the raw st_mode in hex; stat does not follow a symlink unless told to (-L).
const STAT_SCRIPT = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '%f %s' -- "$1"; else exit ${MISSING}; fi`;

const script = (body: string, ...args: string[]): string => `sh -c ${shellQuote(body)} sh ${args.map(shellQuote).join(' ')}`;

/**
 * Reads and stats through commands: for the openssh transport always, for the ssh2 one
 * under become (SFTP runs as the login user) and when a server has no SFTP.
 */
export function commandReads(run: Runner, hostName: string): FileReads {
  const failure = (what: string, stderr: Buffer | string, code: number | null): FettleError =>
    new FettleError('E_TRANSPORT', `${what}: ${stderr.toString().trim() || `exit code ${String(code)}`}`, { where: `host ${hostName}` });
  return {
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

/** The type of a file from its raw `st_mode`. */
export function typeOfMode(mode: number): RemoteStat['type'] {
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
