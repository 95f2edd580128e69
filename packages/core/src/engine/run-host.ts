import type { Change, ItemInstance, StateDict } from '../protocols/item.js';
import { diffLines, diffStateDicts, validateStateDict, displayValue } from '../statedict.js';
import { formatError } from '../errors.js';
import type { BuiltHost, BuiltItem } from './items.js';
import type { ItemGraph } from './graph.js';
import type { HostSession } from './session.js';
import { ConcurrencyGate } from './gate.js';
import type { EngineEvent, ItemResult, RunMode } from './results.js';

export interface HostRunOptions {
  readonly mode: RunMode;
  emit(event: EngineEvent): void;
  /** Asked before each fix (`apply -i`); false skips the item and its dependents. */
  confirm?: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
}

interface ItemState {
  change: Change | null;
  error?: string | undefined;
}

/** A skipped item whose dependents must be skipped too (failure, `skip`, declined). */
interface Outcome {
  result: ItemResult;
  cascades: boolean;
}

const instance = (item: BuiltItem): ItemInstance<unknown> => ({ id: item.id, name: item.name, attrs: item.attrs, usesSecrets: item.usesSecrets });

async function gather(item: BuiltItem, session: HostSession): Promise<ItemState> {
  try {
    const [cdict, sdict] = await Promise.all([
      Promise.resolve(item.type.cdict(instance(item), session.context)),
      item.type.sdict(instance(item), session.context),
    ]);
    validateStateDict(cdict, `item ${item.id} cdict`);
    validateStateDict(sdict, `item ${item.id} sdict`);
    return { change: diffStateDicts(cdict, sdict) };
  } catch (error) {
    return { change: null, error: formatError(error) };
  }
}

function actionOf(change: Change): ItemResult['action'] {
  if (change.cdict === null) return 'delete';
  return change.sdict === null ? 'create' : 'change';
}

async function describeChange(item: BuiltItem, change: Change, session: HostSession, withDetail: boolean): Promise<Pick<ItemResult, 'diff' | 'detail' | 'action'>> {
  const display = (key: string, value: unknown): string => (item.type.displayValue ? item.type.displayValue(key, value) : displayValue(value));
  let detail: string | undefined;
  if (withDetail && item.type.diffDetail) {
    try {
      detail = await item.type.diffDetail(change, instance(item), session.context);
    } catch {
      detail = undefined; // the diff is a courtesy; the keys above still say what differs
    }
  }
  return { diff: diffLines(change, display), detail, action: actionOf(change) };
}

/** Check every item without changing anything (plan, verify, readonly hosts). */
async function check(built: BuiltHost, session: HostSession, options: HostRunOptions, withDetail: boolean): Promise<ItemResult[]> {
  const started = Date.now();
  const active = built.items.filter((item) => !item.common.skip && !item.common.triggered);
  const states = await Promise.all(active.map((item) => gather(item, session)));
  const byId = new Map(active.map((item, index) => [item.id, states[index] as ItemState]));
  return Promise.all(
    built.items.map(async (item): Promise<ItemResult> => {
      const state = byId.get(item.id);
      const ms = Date.now() - started;
      let result: ItemResult;
      if (!state) result = { id: item.id, status: 'skipped', reason: item.common.skip ? 'skip attribute' : 'runs only when triggered', ms };
      else if (state.error !== undefined) result = { id: item.id, status: 'failed', error: state.error, ms };
      else if (state.change === null) result = { id: item.id, status: 'ok', ms };
      else result = { id: item.id, status: 'changed', ...(await describeChange(item, state.change, session, withDetail)), ms };
      options.emit({ type: 'item-done', host: built.host.name, result });
      return result;
    }),
  );
}

/**
 * Apply in waves: a wave is every item whose dependencies are done. Its state is
 * re-gathered where a dependency changed, its fixes run in parallel (their
 * commands coalesce into one remote script), then its fixes are confirmed, each
 * step one batched round trip whatever the number of items.
 */
async function apply(built: BuiltHost, graph: ItemGraph, session: HostSession, options: HostRunOptions): Promise<ItemResult[]> {
  const host = built.host.name;
  const items = new Map(built.items.map((item) => [item.id, item]));
  const outcomes = new Map<string, Outcome>();
  const changed = new Set<string>();
  const triggered = new Set<string>();
  const gate = new ConcurrencyGate();
  const finish = (id: string, result: ItemResult, cascades = result.status === 'failed'): void => {
    outcomes.set(id, { result, cascades });
    options.emit({ type: 'item-done', host, result });
  };

  options.emit({ type: 'host-phase', host, phase: 'gather' });
  const states = new Map<string, ItemState>();
  const initial = built.items.filter((item) => !item.common.skip);
  await Promise.all(initial.map(async (item) => states.set(item.id, await gather(item, session))));

  const remaining = new Set(graph.order);
  while (remaining.size > 0) {
    const wave = graph.order.filter((id) => remaining.has(id) && [...(graph.needs.get(id) ?? [])].every((dep) => outcomes.has(dep)));
    for (const id of wave) remaining.delete(id);
    const waveStart = Date.now();
    const active: BuiltItem[] = [];
    for (const id of wave) {
      const item = items.get(id) as BuiltItem;
      const blocker = [...(graph.needs.get(id) ?? [])].find((dep) => outcomes.get(dep)?.cascades);
      if (blocker) finish(id, { id, status: 'skipped', reason: `needs ${blocker}, which ${outcomes.get(blocker)?.result.status === 'failed' ? 'failed' : 'was skipped'}`, ms: 0 }, true);
      else if (item.common.skip) finish(id, { id, status: 'skipped', reason: 'skip attribute', ms: 0 }, true);
      else if (item.common.triggered && !triggered.has(id)) finish(id, { id, status: 'skipped', reason: 'not triggered', ms: 0 }, false);
      else active.push(item);
    }
    // State gathered before a dependency changed is stale: gather it again.
    const stale = active.filter((item) => [...(graph.needs.get(item.id) ?? [])].some((dep) => changed.has(dep)));
    await Promise.all(stale.map(async (item) => states.set(item.id, await gather(item, session))));

    const toFix: { item: BuiltItem; change: Change; result: ItemResult }[] = [];
    for (const item of active) {
      const state = states.get(item.id) as ItemState;
      if (state.error !== undefined) finish(item.id, { id: item.id, status: 'failed', error: state.error, ms: Date.now() - waveStart });
      else if (state.change === null) finish(item.id, { id: item.id, status: 'ok', ms: Date.now() - waveStart });
      else toFix.push({ item, change: state.change, result: { id: item.id, status: 'changed', ms: 0 } });
    }
    await Promise.all(
      toFix.map(async (entry) => {
        entry.result = { ...entry.result, ...(await describeChange(entry.item, entry.change, session, true)) };
      }),
    );
    let accepted = toFix;
    if (options.confirm) {
      accepted = [];
      for (const entry of toFix) {
        if (await options.confirm(host, entry.result)) accepted.push(entry);
        else finish(entry.item.id, { ...entry.result, status: 'skipped', reason: 'declined', ms: 0 }, true);
      }
    }
    if (accepted.length === 0) continue;

    options.emit({ type: 'host-phase', host, phase: 'fix' });
    const fixErrors = new Map<string, string>();
    // State a fix reported itself: confirmed without reading it back.
    const reported = new Map<string, StateDict>();
    const units = new Map<string, typeof accepted>();
    const singles: typeof accepted = [];
    for (const entry of accepted) {
      if (entry.item.type.fixMany) units.set(entry.item.typeName, [...(units.get(entry.item.typeName) ?? []), entry]);
      else singles.push(entry);
    }
    const runUnit = async (batch: typeof accepted): Promise<void> => {
      const type = (batch[0] as (typeof accepted)[number]).item.type;
      for (const entry of batch) options.emit({ type: 'item-start', host, id: entry.item.id });
      try {
        await gate.run(type, async () => {
          if (type.fixMany) await type.fixMany(batch.map((entry) => ({ change: entry.change, item: instance(entry.item) })), session.context);
          else {
            for (const entry of batch) {
              const state = await type.fix(entry.change, instance(entry.item), session.context);
              if (state) reported.set(entry.item.id, state);
            }
          }
        });
      } catch (error) {
        for (const entry of batch) fixErrors.set(entry.item.id, formatError(error));
      }
    };
    await Promise.all([...[...units.values()].map(runUnit), ...singles.map((entry) => runUnit([entry]))]);

    options.emit({ type: 'host-phase', host, phase: 'confirm' });
    const fixed = accepted.filter((entry) => !fixErrors.has(entry.item.id));
    const confirmations = await Promise.all(
      fixed.map((entry) => {
        const state = reported.get(entry.item.id);
        if (!state) return gather(entry.item, session);
        validateStateDict(state, `item ${entry.item.id} fix result`);
        return Promise.resolve<ItemState>({ change: diffStateDicts(entry.change.cdict, state) });
      }),
    );
    for (const entry of accepted) {
      const id = entry.item.id;
      const ms = Date.now() - waveStart;
      const fixError = fixErrors.get(id);
      if (fixError !== undefined) {
        finish(id, { ...entry.result, status: 'failed', error: fixError, ms });
        continue;
      }
      const after = confirmations[fixed.indexOf(entry)] as ItemState;
      if (after.error !== undefined) finish(id, { ...entry.result, status: 'failed', error: `could not confirm the fix: ${after.error}`, ms });
      else if (after.change !== null) finish(id, { ...entry.result, status: 'failed', error: `still differs after fix: ${after.change.keys.join(', ') || 'exists'}`, ms });
      else {
        changed.add(id);
        for (const target of graph.triggers.get(id) ?? []) triggered.add(target);
        finish(id, { ...entry.result, ms });
      }
    }
  }
  return graph.order.map((id) => (outcomes.get(id) as Outcome).result);
}

/** Run one host's items in the given mode. */
export function runHostItems(built: BuiltHost, graph: ItemGraph, session: HostSession, options: HostRunOptions): Promise<ItemResult[]> {
  if (options.mode === 'apply' && !built.host.readonly) return apply(built, graph, session, options);
  return check(built, session, options, options.mode !== 'verify');
}
