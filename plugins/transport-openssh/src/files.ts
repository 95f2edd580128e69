import { FettleError, shellQuote, type ExecResult, type FileOwnership, type RemoteStat } from '@fettle/core';
import { tarWriter } from '@fettle/transport-shell';

/** Runs a command (already wrapped for become) with optional stdin. */
export type Runner = (command: string, stdin?: Buffer) => Promise<ExecResult>;

export interface FileOps {
  readFile(path: string): Promise<Buffer | null>;
  writeFile(path: string, data: string | Uint8Array, ownership?: FileOwnership): Promise<void>;
  stat(path: string): Promise<RemoteStat | null>;
}

/** Exit code meaning "no such file", apart from sh's own codes. */
const MISSING = 44;
const READ_SCRIPT = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;
// %f is the raw st_mode in hex; stat does not follow a symlink unless told to (-L).
const STAT_SCRIPT = `if [ -e "$1" ] || [ -L "$1" ]; then exec stat -c '%f %s' -- "$1"; else exit ${MISSING}; fi`;
const script = (body: string, path: string): string => `sh -c ${shellQuote(body)} sh ${shellQuote(path)}`;

/**
 * Files through commands. Writes asked for in the same tick travel together as one
 * tar stream into one command (`@fettle/transport-shell`, shared with the ssh2
 * transport), each placed atomically, so a cold apply of N files costs one command.
 */
export function commandFiles(run: Runner, hostName: string, user?: string): FileOps {
  const failure = (what: string, stderr: Buffer | string, code: number | null): FettleError =>
    new FettleError('E_TRANSPORT', `${what}: ${stderr.toString().trim() || `exit code ${String(code)}`}`, { where: `host ${hostName}` });

  return {
    writeFile: tarWriter(run, { hostName, user }),
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
