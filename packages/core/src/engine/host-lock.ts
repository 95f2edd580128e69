import type { HostSession } from './session.js';
import { isNotRun } from './batch-gates.js';
import { isUnreachableError } from '../protocols/transport.js';
import { formatError } from '../errors.js';
import { describeHolder, lockIdentity, lockShowCommand, parseLockShow, parseTakeOutput, softLockHold, TAKE_REFUSED, takeLockCommand, unlockCommand, type LockHolder } from './lock.js';
import { shellText } from '../protocols/shell.js';
import type { Admission } from './apply-options.js';

export interface LockSettings {
  readonly holder: LockHolder & { token: string };
  /** Take over a live lock of someone else (with a warning). */
  readonly force: boolean;
}

/**
 * One host's hard lock for one apply, within the round-trip budget:
 * - `probe()` rides in the first batch (beside the gather): it reads the holder
 *   and the soft locks, so a no-op apply costs no extra command and a locked
 *   host is refused at once;
 * - `take()` (mkdir, atomic) runs once, as the guard at the head of the first fix
 *   batch (or before the first task): when it fails, nothing after it runs;
 * - `release()` runs at the end, also after a failure or an interrupt, or rides
 *   in the last batch when `releaseWith()` is called in that batch's tick.
 */
export class HostLock {
  readonly #session: HostSession;
  readonly #settings: LockSettings;
  readonly #warn: (message: string) => void;
  #probed: Promise<Admission> | undefined;
  #taking: Promise<string | undefined> | undefined;
  #taken = false;
  /** The holder found by the probe is a dead process of this controller: take over without --force-lock. */
  #stale = false;
  /** The release on its way: true once it ran (a gated release may not have). */
  #releasing: Promise<boolean> | undefined;

  constructor(session: HostSession, settings: LockSettings, warn: (message: string) => void) {
    this.#session = session;
    this.#settings = settings;
    this.#warn = warn;
  }

  /** Read the holder and soft locks (call in the first batch's tick). Refuses when someone else holds a live lock. */
  probe(): Promise<Admission> {
    const context = this.#session.context;
    this.#probed ??= context.run(lockShowCommand(context)).then(
      (result): Admission => {
        const { hard, soft } = parseLockShow(result.stdout);
        const hold = softLockHold(soft);
        const live = hard !== undefined && hard.expires > Date.now();
        if (!live || this.#settings.force) return { hold };
        if (diedHere(hard)) {
          // Our own run on this controller died (a second Ctrl-C, a crash): its lock is stale.
          this.#stale = true;
          this.#warn(`took over a stale lock: ${describeHolder(hard)} (that process is gone)`);
          return { hold };
        }
        return { refused: refusal(hard), hold };
      },
      (error: unknown): Admission => (isUnreachableError(error) ? {} : { refused: `cannot read the host lock: ${formatError(error)}`, failed: true }),
    );
    return this.#probed;
  }

  /** Take the lock before the first change; resolves to a refusal reason, or undefined once it is ours. */
  take(): Promise<string | undefined> {
    const context = this.#session.context;
    const command = shellText(takeLockCommand(context, this.#settings.holder, this.#settings.force || this.#stale), 'take lock');
    // A guard: it heads the batch of the first fixes, which run only if it succeeds.
    this.#taking ??= this.#session.guard(command).then(
      (result) => {
        if (result.code !== 0 && result.code !== TAKE_REFUSED) return `cannot take the host lock: ${result.stderr.trim() || `exit code ${String(result.code)}`}`;
        const outcome = parseTakeOutput(result.stdout);
        if (!outcome.taken) return refusal(outcome.holder);
        this.#taken = true;
        if (outcome.overridden && !this.#stale) this.#warn(`took over the lock held by ${describeHolder(outcome.overridden)}`);
        return undefined;
      },
      (error: unknown) => `cannot take the host lock: ${formatError(error)}`,
    );
    return this.#taking;
  }

  /**
   * Start the release now, so it travels in the batch being built in this tick; also
   * behind a take in that same batch (it removes the lock only if the holder is us).
   */
  releaseWith(): Promise<boolean> | undefined {
    if ((!this.#taken && !this.#taking) || this.#releasing) return this.#releasing;
    const context = this.#session.context;
    this.#releasing = context.run(unlockCommand(context, this.#settings.holder.token)).then(
      () => true,
      (error: unknown) => !isNotRun(error),
    );
    return this.#releasing;
  }

  /** Release the lock if it is ours and the connection still allows it (again, if a gate kept the last release from running). */
  async release(): Promise<void> {
    await this.#taking;
    if (!this.#taken || this.#session.lost) return;
    if (this.#releasing && (await this.#releasing)) return;
    this.#releasing = undefined;
    await this.releaseWith();
  }
}

/** The holder is this controller (same identity) and its process no longer exists. */
function diedHere(holder: LockHolder): boolean {
  if (holder.user !== lockIdentity() || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function refusal(holder: LockHolder): string {
  return `locked by ${describeHolder(holder)}; not applied (--force-lock overrides)`;
}
