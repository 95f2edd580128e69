import type { Change, StateDict } from '../protocols/item.js';
import { diffStateDicts, validateStateDict } from '../statedict.js';
import { formatError } from '../errors.js';
import type { BuiltHost, BuiltItem } from './items.js';
import type { ItemGraph } from './graph.js';
import type { HostSession } from './session.js';
import { ConcurrencyGate } from './gate.js';
import { describeChange, gatherItems, instance, type ItemState } from './item-state.js';
import type { EngineEvent, ItemResult } from './results.js';
import { isNotRun, NOT_RUN_REASON } from './batch-gates.js';
import { planFollowers } from './followers.js';

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

/** An item the run is done with; `cascades` when its dependents must be skipped too (failed, `skip`, declined). */
interface Outcome {
  readonly result: ItemResult;
  readonly cascades: boolean;
}

/** An item of the current wave that differs, on its way to being fixed. */
interface Pending {
  readonly item: BuiltItem;
  readonly change: Change;
  result: ItemResult;
  /** Fixed in the batch of the wave it follows, after its dependencies (see `planFollowers`); 0 for the wave itself. */
  readonly stage?: number | undefined;
}

/** What the fixes of one wave did: errors by item, and states fixes reported themselves (confirmed without reading back). */
interface FixOutcome {
  readonly errors: Map<string, string>;
  readonly reported: Map<string, StateDict>;
  /** Items whose fix never started (the run was halted first), with why. */
  readonly notStarted: Map<string, string>;
  /** Items whose commands their batch did not run (a gate: the lock's take or an earlier stage failed). */
  readonly notRun: Set<string>;
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
    for (let wave = this.#nextWave(); wave.length > 0; wave = this.#nextWave()) {
      const halt = this.#halted();
      if (halt !== undefined) {
        this.#skipRemaining(halt);
        return;
      }
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
      fixing.push(this.#fix(stage, outcome));
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

  /** Every unsettled item whose dependencies are all settled, in graph order. */
  #nextWave(): BuiltItem[] {
    const ready = (id: string): boolean => !this.#outcomes.has(id) && [...this.#needs(id)].every((dep) => this.#outcomes.has(dep));
    return this.#graph.order.filter(ready).map((id) => this.#items.get(id) as BuiltItem);
  }

  /** Settle the items that must not run (a dependency failed, `skip`, not triggered, held); return the rest. */
  #decide(wave: readonly BuiltItem[]): BuiltItem[] {
    const active: BuiltItem[] = [];
    for (const item of wave) {
      const id = item.id;
      const blocker = [...this.#needs(id)].find((dep) => this.#outcomes.get(dep)?.cascades);
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
    const stale = active.filter((item) => !fresh.has(item.id) && [...this.#needs(item.id)].some((dep) => this.#changed.has(dep)));
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
   * Fix the accepted items: items of a type with `fixMany` in one call per type,
   * the others one by one, all in parallel except where `blockConcurrent` forbids.
   * A fix not yet started when the run is aborted does not start.
   */
  async #fix(accepted: readonly Pending[], outcome: FixOutcome = emptyOutcome()): Promise<FixOutcome> {
    const units = new Map<string, Pending[]>();
    const singles: Pending[][] = [];
    for (const entry of accepted) {
      if (!entry.item.type.fixMany) singles.push([entry]);
      else {
        const unit = units.get(entry.item.typeName);
        if (unit) unit.push(entry);
        else units.set(entry.item.typeName, [entry]);
      }
    }
    const runUnit = async (batch: Pending[]): Promise<void> => {
      const type = (batch[0] as Pending).item.type;
      try {
        await this.#gate.run(type, async () => {
          const halt = this.#halted();
          if (halt !== undefined) {
            for (const entry of batch) outcome.notStarted.set(entry.item.id, halt);
            return;
          }
          const startedAt = Date.now();
          for (const entry of batch) {
            entry.result = { ...entry.result, startedAt };
            this.#options.emit({ type: 'item-start', host: this.#host, id: entry.item.id });
          }
          if (type.fixMany) {
            await type.fixMany(batch.map((entry) => ({ change: entry.change, item: instance(entry.item) })), this.#session.context);
            return;
          }
          for (const entry of batch) {
            const state = await type.fix(entry.change, instance(entry.item), this.#session.contextFor(entry.item.id));
            if (state) outcome.reported.set(entry.item.id, state);
          }
        });
      } catch (error) {
        for (const entry of batch) {
          if (isNotRun(error)) outcome.notRun.add(entry.item.id);
          else outcome.errors.set(entry.item.id, formatError(error));
        }
      }
    };
    await Promise.all([...units.values(), ...singles].map(runUnit));
    return outcome;
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
    const ahead = gatherItems(this.#nextAfter(fixing), this.#session);
    return { after, ahead };
  }

  /** Read back what was fixed (one batch, unless `early` read it with the fixes) and settle each item: changed, or failed with why. */
  async #confirm(accepted: readonly Pending[], fixed: FixOutcome, started: number, early: ConfirmReads | undefined): Promise<void> {
    const toRead: Pending[] = [];
    const after = new Map<string, ItemState>();
    for (const entry of accepted) {
      if (fixed.errors.has(entry.item.id) || fixed.notStarted.has(entry.item.id) || fixed.notRun.has(entry.item.id)) continue;
      const state = fixed.reported.get(entry.item.id);
      if (!state) toRead.push(entry);
      else {
        try {
          validateStateDict(state, `item ${entry.item.id} fix result`);
          after.set(entry.item.id, { change: diffStateDicts(entry.change.cdict, state) });
        } catch (error) {
          after.set(entry.item.id, { change: null, error: formatError(error) });
        }
      }
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
      const id = entry.item.id;
      const ms = Date.now() - started;
      const fixError = fixed.errors.get(id);
      const notStarted = fixed.notStarted.get(id);
      const state = after.get(id);
      // A follower its batch did not run (a fix before it failed) goes back to wait for its own wave.
      if (fixed.notRun.has(id) && (entry.stage ?? 0) > 0) continue;
      if (notStarted !== undefined) this.#settle({ ...entry.result, status: 'skipped', reason: notStarted, ms }, true);
      else if (fixed.notRun.has(id)) this.#settle({ ...entry.result, status: 'failed', error: NOT_RUN_REASON, ms });
      else if (fixError !== undefined) this.#settle({ ...entry.result, status: 'failed', error: fixError, ms });
      else if (!state || state.error !== undefined) this.#settle({ ...entry.result, status: 'failed', error: `could not confirm the fix: ${state?.error ?? 'no state'}`, ms });
      else if (state.change !== null) this.#settle({ ...entry.result, status: 'failed', error: `still differs after fix: ${state.change.keys.join(', ') || 'exists'}`, ms });
      else {
        this.#changed.add(id);
        for (const target of this.#graph.triggers.get(id) ?? []) this.#triggered.add(target);
        this.#settle({ ...entry.result, ms });
      }
    }
  }

  /** The items that become ready once these are settled and that need one of them (the next wave, if all goes well). */
  #nextAfter(accepted: readonly Pending[]): BuiltItem[] {
    const inWave = new Set(accepted.map((entry) => entry.item.id));
    const done = (id: string): boolean => this.#outcomes.has(id) || inWave.has(id);
    return this.#graph.order
      .filter((id) => !done(id) && [...this.#needs(id)].every(done) && [...this.#needs(id)].some((dep) => inWave.has(dep)))
      .map((id) => this.#items.get(id) as BuiltItem)
      .filter((item) => !item.common.skip);
  }

  /** Whether nothing is left after these items: then their confirm is the host's last batch. */
  #isLastWave(accepted: readonly Pending[]): boolean {
    const inWave = new Set(accepted.map((entry) => entry.item.id));
    return this.#graph.order.every((id) => this.#outcomes.has(id) || inWave.has(id));
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

  #needs(id: string): ReadonlySet<string> {
    return this.#graph.needs.get(id) ?? new Set();
  }

  #settle(result: ItemResult, cascades = result.status === 'failed'): void {
    this.#outcomes.set(result.id, { result, cascades });
    this.#options.emit({ type: 'item-done', host: this.#host, result });
  }
}

function emptyOutcome(): FixOutcome {
  return { errors: new Map(), reported: new Map(), notStarted: new Map(), notRun: new Set() };
}

function mergeOutcomes(outcomes: readonly FixOutcome[]): FixOutcome {
  const merged = emptyOutcome();
  for (const outcome of outcomes) {
    for (const [id, error] of outcome.errors) merged.errors.set(id, error);
    for (const [id, state] of outcome.reported) merged.reported.set(id, state);
    for (const [id, why] of outcome.notStarted) merged.notStarted.set(id, why);
    for (const id of outcome.notRun) merged.notRun.add(id);
  }
  return merged;
}
