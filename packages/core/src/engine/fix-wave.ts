import type { Change, ItemContext, StateDict } from '../protocols/item.js';
import { diffStateDicts, validateStateDict } from '../statedict.js';
import { formatError } from '../errors.js';
import type { BuiltItem } from './items.js';
import type { ConcurrencyGate } from './gate.js';
import { instance, type ItemState } from './item-state.js';
import type { EngineEvent, ItemResult } from './results.js';
import { isNotRun, NOT_RUN_REASON } from './batch-gates.js';

/** An item of the current wave that differs, on its way to being fixed. */
export interface Pending {
  readonly item: BuiltItem;
  readonly change: Change;
  result: ItemResult;
  /** Fixed in the batch of the wave it follows, after its dependencies (see `planFollowers`); 0 for the wave itself. */
  readonly stage?: number | undefined;
}

/** What the fixes of one wave did: errors by item, and states fixes reported themselves (confirmed without reading back). */
export interface FixOutcome {
  readonly errors: Map<string, string>;
  readonly reported: Map<string, StateDict>;
  /** Items whose fix never started (the run was halted first), with why. */
  readonly notStarted: Map<string, string>;
  /** Items whose commands their batch did not run (a gate: the lock's take or an earlier stage failed). */
  readonly notRun: Set<string>;
}

export function emptyOutcome(): FixOutcome {
  return { errors: new Map(), reported: new Map(), notStarted: new Map(), notRun: new Set() };
}

export function mergeOutcomes(outcomes: readonly FixOutcome[]): FixOutcome {
  const merged = emptyOutcome();
  for (const outcome of outcomes) {
    for (const [id, error] of outcome.errors) merged.errors.set(id, error);
    for (const [id, state] of outcome.reported) merged.reported.set(id, state);
    for (const [id, why] of outcome.notStarted) merged.notStarted.set(id, why);
    for (const id of outcome.notRun) merged.notRun.add(id);
  }
  return merged;
}

/** What fixing needs of the host's run. */
export interface FixRun {
  readonly host: string;
  readonly gate: ConcurrencyGate;
  readonly emit: (event: EngineEvent) => void;
  /** The session's context, and the one for an item's own hooks (see `HostSession.contextFor`). */
  readonly context: ItemContext;
  contextFor(itemId: string): ItemContext;
  /** Why no fix may start now (interrupted, connection lost), or undefined. */
  halted(): string | undefined;
}

/**
 * Fix the accepted items: items of a type with `fixMany` in one call per type,
 * the others one by one, all in parallel except where `blockConcurrent` forbids.
 * A fix not yet started when the run is halted does not start.
 */
export async function fixWave(run: FixRun, accepted: readonly Pending[], outcome: FixOutcome = emptyOutcome()): Promise<FixOutcome> {
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
  const fixUnit = async (unit: Pending[]): Promise<void> => {
    const type = (unit[0] as Pending).item.type;
    try {
      await run.gate.run(type, async () => {
        const halt = run.halted();
        if (halt !== undefined) {
          for (const entry of unit) outcome.notStarted.set(entry.item.id, halt);
          return;
        }
        const startedAt = Date.now();
        for (const entry of unit) {
          entry.result = { ...entry.result, startedAt };
          run.emit({ type: 'item-start', host: run.host, id: entry.item.id });
        }
        if (type.fixMany) {
          await type.fixMany(unit.map((entry) => ({ change: entry.change, item: instance(entry.item) })), run.context);
          return;
        }
        for (const entry of unit) {
          const state = await type.fix(entry.change, instance(entry.item), run.contextFor(entry.item.id));
          if (state) outcome.reported.set(entry.item.id, state);
        }
      });
    } catch (error) {
      for (const entry of unit) {
        if (isNotRun(error)) outcome.notRun.add(entry.item.id);
        else outcome.errors.set(entry.item.id, formatError(error));
      }
    }
  };
  await Promise.all([...units.values(), ...singles].map(fixUnit));
  return outcome;
}

/**
 * An accepted item's result once its fix is done and read back (`state`), and whether
 * its dependents must be skipped; undefined for a follower its batch did not run (a fix
 * before it failed): it goes back to wait for its own wave.
 */
export function fixedResult(entry: Pending, fixed: FixOutcome, state: ItemState | undefined, ms: number): { result: ItemResult; cascades: boolean } | undefined {
  const id = entry.item.id;
  const notRun = fixed.notRun.has(id);
  if (notRun && (entry.stage ?? 0) > 0) return undefined;
  const notStarted = fixed.notStarted.get(id);
  const fixError = fixed.errors.get(id);
  const failed = (error: string) => ({ result: { ...entry.result, status: 'failed' as const, error, ms }, cascades: true });
  if (notStarted !== undefined) return { result: { ...entry.result, status: 'skipped', reason: notStarted, ms }, cascades: true };
  if (notRun) return failed(NOT_RUN_REASON);
  if (fixError !== undefined) return failed(fixError);
  if (!state || state.error !== undefined) return failed(`could not confirm the fix: ${state?.error ?? 'no state'}`);
  if (state.change !== null) return failed(`still differs after fix: ${state.change.keys.join(', ') || 'exists'}`);
  return { result: { ...entry.result, ms }, cascades: false };
}

/** The state a fix reported itself (confirmed without reading back), checked like a gathered one. */
export function reportedState(entry: Pending, state: StateDict): ItemState {
  try {
    validateStateDict(state, `item ${entry.item.id} fix result`);
    return { change: diffStateDicts(entry.change.cdict, state) };
  } catch (error) {
    return { change: null, error: formatError(error) };
  }
}
