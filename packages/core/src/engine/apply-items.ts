import type { BuiltHost, BuiltItem } from './items.js';
import type { ItemGraph } from './graph.js';
import type { HostSession } from './session.js';
import { ConcurrencyGate } from './gate.js';
import { describeChange, gatherItems, type ItemState } from './item-state.js';
import type { ItemResult } from './results.js';
import type { Admission, ApplyOptions } from './apply-options.js';
import { emptyOutcome, fixedResult, fixWave, mergeOutcomes, reportedState, type FixOutcome, type FixRun, type Pending } from './fix-wave.js';
import { planFollowers } from './followers.js';
import { isLastWave, needsOf, nextWave, readyAfter } from './waves.js';

/** An item the run is done with; `cascades` when its dependents must be skipped too (failed, `skip`, declined). */
interface Outcome {
  readonly result: ItemResult;
  readonly cascades: boolean;
}

/** The confirming reads of a batch: the fixed items' state, and the next wave's. */
interface ConfirmReads {
  readonly after: Promise<Map<string, ItemState>>;
  readonly ahead: Promise<Map<string, ItemState>>;
}

/**
 * Apply one host's items in waves. A wave is every item whose dependencies are
 * settled. Each wave: decide what to do with each item, re-gather items whose
 * dependency changed, review the differences (diff, `-i`), fix them in parallel
 * (their commands coalesce into one remote script), then confirm. Each step is one
 * batched round trip whatever the number of items.
 */
export async function applyItems(built: BuiltHost, graph: ItemGraph, session: HostSession, options: ApplyOptions): Promise<ItemResult[]> {
  const run = new HostApply(built, graph, session, options);
  await run.all();
  return run.results();
}

class HostApply {
  readonly #host: string;
  readonly #items: ReadonlyMap<string, BuiltItem>;
  readonly #graph: ItemGraph;
  readonly #session: HostSession;
  readonly #options: ApplyOptions;
  readonly #gate = new ConcurrencyGate();
  /** Items settled so far. */
  readonly #outcomes = new Map<string, Outcome>();
  /** Items this run changed (their dependents' state is stale) and items their changes triggered. */
  readonly #changed = new Set<string>();
  readonly #triggered = new Set<string>();
  /** The latest gathered state of each item. */
  #states = new Map<string, ItemState>();
  /** Items of the next wave whose state was gathered with the last confirm, after the fixes they depend on. */
  #fresh = new Set<string>();
  #hold: Admission['hold'];

  constructor(built: BuiltHost, graph: ItemGraph, session: HostSession, options: ApplyOptions) {
    this.#host = built.host.name;
    this.#items = new Map(built.items.map((item) => [item.id, item]));
    this.#graph = graph;
    this.#session = session;
    this.#options = options;
  }

  async all(): Promise<void> {
    this.#options.emit({ type: 'host-phase', host: this.#host, phase: 'gather' });
    this.#states = await gatherItems(
      [...this.#items.values()].filter((item) => !item.common.skip),
      this.#session,
    );
    const admission = await this.#options.admission;
    if (admission?.refused !== undefined) return this.#skipRemaining(admission.refused, admission.failed ? 'failed' : 'skipped');
    this.#hold = admission?.hold;
    for (;;) {
      const wave = this.#itemsOf(nextWave(this.#graph, this.#isSettled));
      if (wave.length === 0) return;
      const halt = this.#halted();
      if (halt !== undefined) return this.#skipRemaining(halt);
      await this.#runWave(wave);
    }
  }

  results(): ItemResult[] {
    return this.#graph.order.map((id) => (this.#outcomes.get(id) as Outcome).result);
  }

  async #runWave(wave: readonly BuiltItem[]): Promise<void> {
    const started = Date.now();
    const active = this.#decide(wave);
    await this.#regather(active);
    const differing = this.#settleUnchanged(active, started);
    const accepted = await this.#review(differing);
    if (accepted.length === 0) return;
    const followers = await this.#followers(accepted);
    // The lock's take heads the fixes' batch as its guard: refused, the host runs none of them.
    const admitting = this.#options.admit?.();
    this.#options.emit({ type: 'host-phase', host: this.#host, phase: 'fix' });
    const { all, fixing, early } = await this.#fixInOneBatch([accepted, ...followers]);
    const fixed = mergeOutcomes(await Promise.all(fixing));
    const refused = await admitting;
    if (refused !== undefined) return this.#skipRemaining(refused);
    this.#options.emit({ type: 'host-phase', host: this.#host, phase: 'confirm' });
    await this.#confirm(all, fixed, started, early);
  }

  /**
   * Fix the stages (the wave, then its followers) in one held batch, each stage's
   * commands after the last's and run only if they all succeeded. When every fix
   * asked for all its work at once, the confirming reads (and the lock's release,
   * behind every stage) ride in the same batch.
   */
  async #fixInOneBatch(stages: readonly Pending[][]): Promise<{ all: Pending[]; fixing: Promise<FixOutcome>[]; early: ConfirmReads | undefined }> {
    const session = this.#session;
    const fixing: Promise<FixOutcome>[] = [];
    const outcomes: FixOutcome[] = [];
    const all: Pending[] = [];
    session.hold();
    for (const [index, stage] of stages.entries()) {
      // A fix that failed before asking anything cannot stop the stages after it in the script: they wait for their wave.
      if (outcomes.some((outcome) => outcome.errors.size > 0 || outcome.notStarted.size > 0)) break;
      session.stage = index;
      const outcome = emptyOutcome();
      outcomes.push(outcome);
      fixing.push(fixWave(this.#fixRun(), stage, outcome));
      all.push(...stage);
      await session.settle();
    }
    session.stage = undefined;
    let early: ConfirmReads | undefined;
    if (all.every((entry) => entry.item.type.pathScope !== undefined) && session.deferredWrites === 0) {
      early = this.#startConfirm(all, all);
      if (this.#isLastWave(all)) {
        // Behind every stage: when a fix fails, the lock stays for the waves still to come (released at the end).
        session.stage = fixing.length;
        this.#options.lastBatch?.();
        session.stage = undefined;
      }
      await session.settle();
    }
    session.release();
    const mark = session.asks;
    // A fix that asked for more after the batch left is confirmed by a read after it.
    const confirmed = early && Promise.all(fixing).then(() => session.asks === mark);
    return { all, fixing, early: early && (await confirmed) ? early : undefined };
  }

  /** The items that follow the wave into its batch (not under `apply -i`: each is asked about in its own wave). */
  async #followers(accepted: readonly Pending[]): Promise<Pending[][]> {
    if (this.#options.confirm) return [];
    const planned = planFollowers(accepted, {
      graph: this.#graph,
      items: this.#items,
      changeOf: (id) => {
        const state = this.#states.get(id);
        return state && state.error === undefined && state.change !== null ? state.change : undefined;
      },
      isSettled: (id) => this.#outcomes.has(id),
      settledFine: (id) => this.#outcomes.get(id)?.cascades === false,
      changedThisRun: (id) => this.#changed.has(id),
      eligible: (item) => !item.common.skip && !item.common.triggered && this.#hold?.(item) === undefined,
    });
    const stages: Pending[][] = [];
    await Promise.all(
      planned.map(async ({ item, change, stage }) => {
        const result: ItemResult = { id: item.id, status: 'changed', ms: 0, ...(await describeChange(item, change, this.#session, this.#options.details ?? true)) };
        (stages[stage - 1] ??= []).push({ item, change, result, stage });
      }),
    );
    return stages.filter((stage) => stage.length > 0);
  }

  /** Settle the items that must not run (a dependency failed, `skip`, not triggered, held); return the rest. */
  #decide(wave: readonly BuiltItem[]): BuiltItem[] {
    const active: BuiltItem[] = [];
    for (const item of wave) {
      const id = item.id;
      const blocker = [...needsOf(this.#graph, id)].find((dep) => this.#outcomes.get(dep)?.cascades);
      const held = this.#hold?.(item);
      if (blocker) {
        const what = this.#outcomes.get(blocker)?.result.status === 'failed' ? 'failed' : 'was skipped';
        this.#settle({ id, status: 'skipped', reason: `needs ${blocker}, which ${what}`, ms: 0 }, true);
      } else if (item.common.skip) this.#settle({ id, status: 'skipped', reason: 'skip attribute', ms: 0 }, true);
      else if (item.common.triggered && !this.#triggered.has(id)) this.#settle({ id, status: 'skipped', reason: 'not triggered', ms: 0 }, false);
      else if (held !== undefined) this.#settle({ id, status: 'skipped', reason: held, ms: 0 }, true);
      else active.push(item);
    }
    return active;
  }

  /** State gathered before a dependency changed is stale: gather it again (unless the last confirm already did). */
  async #regather(active: readonly BuiltItem[]): Promise<void> {
    const fresh = this.#fresh;
    this.#fresh = new Set();
    const stale = active.filter((item) => !fresh.has(item.id) && [...needsOf(this.#graph, item.id)].some((dep) => this.#changed.has(dep)));
    for (const [id, state] of await gatherItems(stale, this.#session)) this.#states.set(id, state);
  }

  /** Settle items already in their desired state (or unreadable); return those that differ. */
  #settleUnchanged(active: readonly BuiltItem[], started: number): Pending[] {
    const differing: Pending[] = [];
    for (const item of active) {
      const state = this.#states.get(item.id) as ItemState;
      if (state.error !== undefined) this.#settle({ id: item.id, status: 'failed', error: state.error, ms: Date.now() - started });
      else if (state.change === null) this.#settle({ id: item.id, status: 'ok', ms: Date.now() - started });
      else differing.push({ item, change: state.change, result: { id: item.id, status: 'changed', ms: 0 } });
    }
    return differing;
  }

  /** Describe each difference, and ask about it under `apply -i`; return the accepted ones. */
  async #review(differing: Pending[]): Promise<Pending[]> {
    await Promise.all(
      differing.map(async (entry) => {
        entry.result = { ...entry.result, ...(await describeChange(entry.item, entry.change, this.#session, this.#options.details ?? true)) };
      }),
    );
    const confirm = this.#options.confirm;
    if (!confirm) return differing;
    const accepted: Pending[] = [];
    for (const entry of differing) {
      if (await confirm(this.#host, entry.result)) accepted.push(entry);
      else this.#settle({ ...entry.result, status: 'skipped', reason: 'declined', ms: 0 }, true);
    }
    return accepted;
  }

  /**
   * Start the confirming reads of `toRead` and, in the same batch, of the items that
   * become ready after `fixing` (their dependencies' fixes are done by then, so this
   * is the state they would be re-gathered for: one round trip per wave saved).
   */
  #startConfirm(toRead: readonly Pending[], fixing: readonly Pending[]): ConfirmReads {
    const after = gatherItems(
      toRead.map((entry) => entry.item),
      this.#session,
    );
    // The items that become ready once these are settled and that need one of them (the next wave, if all goes well).
    const ahead = gatherItems(
      this.#itemsOf(readyAfter(this.#graph, this.#isSettled, idsOf(fixing))).filter((item) => !item.common.skip),
      this.#session,
    );
    return { after, ahead };
  }

  /** Read back what was fixed (one batch, unless `early` read it with the fixes) and settle each item: changed, or failed with why. */
  async #confirm(accepted: readonly Pending[], fixed: FixOutcome, started: number, early: ConfirmReads | undefined): Promise<void> {
    const toRead: Pending[] = [];
    const after = new Map<string, ItemState>();
    for (const entry of accepted) {
      if (fixed.errors.has(entry.item.id) || fixed.notStarted.has(entry.item.id) || fixed.notRun.has(entry.item.id)) continue;
      const state = fixed.reported.get(entry.item.id);
      if (state) after.set(entry.item.id, reportedState(entry, state));
      else toRead.push(entry);
    }
    let reads = early;
    if (!reads) {
      reads = this.#startConfirm(toRead, accepted);
      const settling = accepted.filter((entry) => !(fixed.notRun.has(entry.item.id) && (entry.stage ?? 0) > 0));
      if (this.#isLastWave(settling)) this.#options.lastBatch?.();
    }
    const read = await reads.after;
    for (const entry of toRead) {
      const state = read.get(entry.item.id);
      if (state) after.set(entry.item.id, state);
    }
    for (const [id, state] of await reads.ahead) {
      this.#states.set(id, state);
      this.#fresh.add(id);
    }

    for (const entry of accepted) {
      const done = fixedResult(entry, fixed, after.get(entry.item.id), Date.now() - started);
      if (!done) continue;
      if (!done.cascades) {
        this.#changed.add(entry.item.id);
        for (const target of this.#graph.triggers.get(entry.item.id) ?? []) this.#triggered.add(target);
      }
      this.#settle(done.result, done.cascades);
    }
  }

  /** Whether nothing is left after these items: then their confirm is the host's last batch. */
  #isLastWave(accepted: readonly Pending[]): boolean {
    return isLastWave(this.#graph, this.#isSettled, idsOf(accepted));
  }

  readonly #isSettled = (id: string): boolean => this.#outcomes.has(id);

  /** What fixing needs of this run (see `fixWave`). */
  #fixRun(): FixRun {
    const session = this.#session;
    return {
      host: this.#host,
      gate: this.#gate,
      emit: this.#options.emit,
      context: session.context,
      contextFor: (itemId) => session.contextFor(itemId),
      halted: () => this.#halted(),
    };
  }

  /** Why no new work may start on this host (interrupted, connection lost), or undefined. */
  #halted(): string | undefined {
    if (this.#options.signal?.aborted) return 'interrupted';
    return this.#options.stopped?.();
  }

  /** Report every item not settled yet as skipped (or failed, when the host failed), with the reason the run stopped. */
  #skipRemaining(reason: string, status: 'skipped' | 'failed' = 'skipped'): void {
    for (const id of this.#graph.order) {
      if (this.#outcomes.has(id)) continue;
      this.#settle(status === 'failed' ? { id, status, error: `not run: ${reason}`, ms: 0 } : { id, status, reason, ms: 0 }, true);
    }
  }

  #itemsOf(ids: readonly string[]): BuiltItem[] {
    return ids.map((id) => this.#items.get(id) as BuiltItem);
  }

  #settle(result: ItemResult, cascades = result.status === 'failed'): void {
    this.#outcomes.set(result.id, { result, cascades });
    this.#options.emit({ type: 'item-done', host: this.#host, result });
  }
}

function idsOf(entries: readonly Pending[]): Set<string> {
  return new Set(entries.map((entry) => entry.item.id));
}
