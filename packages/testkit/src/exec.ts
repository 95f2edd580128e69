import { execFile } from 'node:child_process';

/** Result of a finished child process; never rejects on a non-zero exit. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell (no quoting pitfalls) and resolves with its
 * output whatever the exit code; spawn failures (ENOENT) still reject.
 */
export function run(file: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code === 'string') {
          // A string code is a spawn error such as ENOENT, not an exit status.
          reject(new Error(`cannot run ${file}: ${err.message}`, { cause: err }));
          return;
        }
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          signal: err?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Like {@link run} but throws (with stderr in the message) unless the exit code is 0. */
export async function runOk(file: string, args: readonly string[], timeoutMs?: number): Promise<RunResult> {
  const res = await run(file, args, timeoutMs);
  if (res.code !== 0) {
    const how = res.signal ? `signal ${res.signal}` : `exit code ${String(res.code)}`;
    throw new Error(`${file} ${args.join(' ')} failed with ${how}: ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
