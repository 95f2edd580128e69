import type { BuiltItem } from './items.js';
import type { EngineEvent, ItemResult } from './results.js';

/** How one host's items are applied: what the run reports to, asks, and may be stopped by. */
export interface ApplyOptions {
  readonly emit: (event: EngineEvent) => void;
  /** Asked before each fix (`apply -i`); false skips the item and its dependents. */
  confirm?: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
  /** Whether differing items get their detail (a content diff); default true. Off, a cold apply builds no diff text. */
  details?: boolean | undefined;
  /** Once aborted, no wave and no fix starts; what was not started is reported skipped. */
  signal?: AbortSignal | undefined;
  /**
   * Awaited after the first gather, before any fix: the host lock's answer. A
   * `refused` reason skips every item; `hold` says why an item must be left alone
   * (someone else's soft lock), or undefined.
   */
  admission?: Promise<Admission> | undefined;
  /** Called once before the first fix (the host lock is taken then); a reason refuses every fix. */
  admit?: (() => Promise<string | undefined>) | undefined;
  /** Called in the tick of the host's last remote batch (the final confirm), so a last command can ride in it. */
  lastBatch?: (() => void) | undefined;
  /** Why the host can no longer be worked on (its connection was lost), or undefined. */
  stopped?: (() => string | undefined) | undefined;
}

export interface Admission {
  readonly refused?: string | undefined;
  /** The refusal is the host failing (its lock could not even be read), not someone else's lock: items count as failed. */
  readonly failed?: boolean | undefined;
  readonly hold?: ((item: BuiltItem) => string | undefined) | undefined;
}
