import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shellQuote, type ExecResult } from '@fettle/core';

/** Where fettle keeps controller-side state: $FETTLE_STATE_DIR, else $XDG_STATE_HOME/fettle, else ~/.local/state/fettle. */
export function controllerStateDir(): string {
  const explicit = process.env['FETTLE_STATE_DIR'];
  if (explicit) return explicit;
  const xdg = process.env['XDG_STATE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state'), 'fettle');
}

/**
 * Temp files and folders a lost connection left on one host (`user@host:port`). Each is
 * appended to a small file on the controller the moment it is known (a second
 * Ctrl-C cannot lose it); the next connection to that host removes them in its
 * first command, the batch it sends anyway, so the sweep costs no round trip.
 */
export class Leftovers {
  readonly #file: string;
  #pending: string[];

  constructor(endpoint: string, dir = controllerStateDir()) {
    this.#file = path.join(dir, 'leftovers', endpoint.replace(/[^A-Za-z0-9@._-]/g, '_'));
    let text = '';
    // Almost every host has none: a failed read would cost an exception per connection.
    if (existsSync(this.#file)) {
      try {
        text = readFileSync(this.#file, 'utf8');
      } catch {
        text = '';
      }
    }
    this.#pending = text.split('\n').filter((line) => line !== '');
  }

  /** Record a temp file that could not be removed. */
  add(remotePath: string): void {
    try {
      mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
      appendFileSync(this.#file, `${remotePath}\n`, { mode: 0o600 });
    } catch {
      // Best effort: the file is still recognisable by its name (.NAME.fettle-tmp-*).
    }
  }

  /**
   * The shell prefix that removes what earlier runs left (empty when nothing), and
   * a function to call once it ran. Taken once: only the first command carries it.
   */
  takeSweep(): { prefix: string; done(): void } {
    // Only fettle's own temp names (`.NAME.fettle-tmp-RANDOM`, files or folders) are ever removed.
    const known = this.#pending;
    const swept = known.filter((entry) => /^\/(?:.*\/)?\.[^/]*\.fettle-tmp-[0-9a-f]+$/.test(entry));
    this.#pending = [];
    // Nothing was known: nothing to forget (and no file to read per host of every run).
    if (known.length === 0) return { prefix: '', done: () => undefined };
    if (swept.length === 0) return { prefix: '', done: () => this.#forget(known) };
    return {
      prefix: `rm -rf -- ${swept.map(shellQuote).join(' ')} 2>/dev/null; `,
      done: () => this.#forget(known),
    };
  }

  #forget(swept: readonly string[]): void {
    try {
      const gone = new Set(swept);
      const left = readFileSync(this.#file, 'utf8').split('\n').filter((line) => line !== '' && !gone.has(line));
      if (left.length === 0) return rmSync(this.#file, { force: true });
      const temp = `${this.#file}.${process.pid}`;
      writeFileSync(temp, `${left.join('\n')}\n`, { mode: 0o600 });
      renameSync(temp, this.#file);
    } catch {
      // Kept: the next run sweeps them again (rm -f of a missing file is harmless).
    }
  }
}

/**
 * A command runner whose first command also removes what earlier runs left on the
 * host (the sweep rides the command the transport sends anyway: no round trip).
 * Wrap before become, so the sweep runs as the user who made the temp files.
 */
export function sweepingFirst<A extends unknown[]>(
  leftovers: Leftovers,
  run: (command: string, ...rest: A) => Promise<ExecResult>,
): (command: string, ...rest: A) => Promise<ExecResult> {
  let sweep: ReturnType<Leftovers['takeSweep']> | undefined = leftovers.takeSweep();
  return async (command, ...rest) => {
    const first = sweep;
    sweep = undefined;
    const result = await run(first ? `${first.prefix}${command}` : command, ...rest);
    first?.done();
    return result;
  };
}
