/**
 * At most `limit` channels at once on one connection, the rest wait in FIFO order.
 * sshd refuses sessions beyond MaxSessions (10), and frees a slot a little after the
 * client sees `close`, so staying well below it (default 4) avoids most open
 * failures; `openWithRetry` absorbs the rest.
 */
export class ChannelLimiter {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  /** Wait for a slot; the returned function gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.#active < this.#limit) this.#active++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // slot handed over by release
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
  }
}

const OPEN_FAILURE_RE = /Channel open failure|open failed/i;

/** Retry a channel open that the server refused for lack of session slots, with backoff. */
export async function openWithRetry<T>(open: () => Promise<T>, stillUsable: () => Error | undefined, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      const gone = stillUsable();
      if (gone) throw gone;
      if (!(error instanceof Error) || !OPEN_FAILURE_RE.test(error.message) || attempt >= attempts) {
        if (error instanceof Error && OPEN_FAILURE_RE.test(error.message)) {
          error.message += ` (after ${attempt} attempts; the server's MaxSessions may be below maxChannels)`;
        }
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, 10 * 2 ** (attempt - 1)) + Math.random() * 10));
    }
  }
}
