import type { BuiltHost, BuiltItem } from './items.js';
import type { ItemGraph } from './graph.js';
import type { HostSession } from './session.js';
import { describeChange, gatherItemStates, type ItemState } from './item-state.js';
import { differsStatus, type EngineEvent, type ItemResult, type RunMode } from './results.js';

/**
 * Check every item without changing anything (plan, verify, readonly hosts): one
 * gather, then a diff per item. A triggered item is not gathered: in plan it says
 * whether apply would run it (one of its triggers would change), in verify it is skipped.
 */
export async function checkItems(
  built: BuiltHost,
  graph: ItemGraph,
  session: HostSession,
  emit: (event: EngineEvent) => void,
  mode: RunMode,
  details = true,
): Promise<ItemResult[]> {
  const started = Date.now();
  const items = built.items;
  const states = await gatherItemStates(
    items.filter((item) => !item.common.skip && !item.common.triggered),
    session,
  );
  // By the items' index, not by id: no map of a hundred entries per host.
  const results = new Array<ItemResult | undefined>(items.length);
  const ms = Date.now() - started;
  // Only a change needs more work (its diff): the rest are settled here, without a promise each.
  const described: Promise<void>[] = [];
  let pending = false;
  for (let index = 0, gathered = 0; index < items.length; index++) {
    const item = items[index] as BuiltItem;
    if (item.common.skip) {
      results[index] = { id: item.id, status: 'skipped', reason: 'skip attribute', ms };
      continue;
    }
    if (item.common.triggered) {
      pending = true;
      continue;
    }
    const state = states[gathered++] as ItemState;
    if (state.error !== undefined) results[index] = { id: item.id, status: 'failed', error: state.error, ms };
    else if (state.change === null) results[index] = { id: item.id, status: 'ok', ms };
    else {
      described.push(
        describeChange(item, state.change, session, details && mode !== 'verify').then((description) => {
          results[index] = { id: item.id, status: differsStatus(mode), ...description, ms };
        }),
      );
    }
  }
  if (described.length > 0) await Promise.all(described);
  if (pending) settleTriggered(built, graph, results, mode, Date.now() - started);
  const host = built.host.name;
  for (const result of results as ItemResult[]) emit({ type: 'item-done', host, result });
  return results as ItemResult[];
}

/** Triggered items run in apply when something that triggers them changed: follow the chains of triggers. */
function settleTriggered(built: BuiltHost, graph: ItemGraph, results: (ItemResult | undefined)[], mode: RunMode, ms: number): void {
  const byId = new Map<string, ItemResult>();
  for (const result of results) if (result) byId.set(result.id, result);
  const pending = built.items.filter((item) => !byId.has(item.id));
  const settle = (item: BuiltItem, result: ItemResult): void => {
    byId.set(item.id, result);
    results[built.items.indexOf(item)] = result;
  };
  const triggers = (id: string): boolean => ['wouldChange', 'ifTriggered'].includes(byId.get(id)?.status ?? '');
  for (let progress = mode !== 'verify'; progress; ) {
    progress = false;
    for (const item of pending) {
      if (byId.has(item.id)) continue;
      const by = [...graph.triggers].find(([from, targets]) => targets.has(item.id) && triggers(from))?.[0];
      if (by === undefined) continue;
      settle(item, { id: item.id, status: 'ifTriggered', reason: `runs if triggered: ${by} would change`, ms });
      progress = true;
    }
  }
  for (const item of pending) {
    if (byId.has(item.id)) continue;
    const reason = mode === 'verify' ? 'runs only when triggered' : 'not triggered: nothing that triggers it would change';
    settle(item, { id: item.id, status: 'skipped', reason, ms });
  }
}
