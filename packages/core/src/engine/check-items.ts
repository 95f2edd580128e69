import type { BuiltHost } from './items.js';
import type { ItemGraph } from './graph.js';
import type { HostSession } from './session.js';
import { describeChange, gatherItems } from './item-state.js';
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
  const states = await gatherItems(
    built.items.filter((item) => !item.common.skip && !item.common.triggered),
    session,
  );
  const results = new Map<string, ItemResult>();
  const ms = Date.now() - started;
  // Only a change needs more work (its diff): the rest are settled here, without a promise each.
  const described: Promise<void>[] = [];
  for (const item of built.items) {
    const state = states.get(item.id);
    if (item.common.skip) results.set(item.id, { id: item.id, status: 'skipped', reason: 'skip attribute', ms });
    else if (!state) continue;
    else if (state.error !== undefined) results.set(item.id, { id: item.id, status: 'failed', error: state.error, ms });
    else if (state.change === null) results.set(item.id, { id: item.id, status: 'ok', ms });
    else {
      const change = state.change;
      described.push(
        describeChange(item, change, session, details && mode !== 'verify').then((description) => {
          results.set(item.id, { id: item.id, status: differsStatus(mode), ...description, ms });
        }),
      );
    }
  }
  await Promise.all(described);
  settleTriggered(built, graph, results, mode, Date.now() - started);
  return built.items.map((item) => {
    const result = results.get(item.id) as ItemResult;
    emit({ type: 'item-done', host: built.host.name, result });
    return result;
  });
}

/** Triggered items run in apply when something that triggers them changed: follow the chains of triggers. */
function settleTriggered(built: BuiltHost, graph: ItemGraph, results: Map<string, ItemResult>, mode: RunMode, ms: number): void {
  const pending = built.items.filter((item) => !results.has(item.id));
  const triggers = (id: string): boolean => ['wouldChange', 'ifTriggered'].includes(results.get(id)?.status ?? '');
  for (let progress = mode !== 'verify'; progress; ) {
    progress = false;
    for (const item of pending) {
      if (results.has(item.id)) continue;
      const by = [...graph.triggers].find(([from, targets]) => targets.has(item.id) && triggers(from))?.[0];
      if (by === undefined) continue;
      results.set(item.id, { id: item.id, status: 'ifTriggered', reason: `runs if triggered: ${by} would change`, ms });
      progress = true;
    }
  }
  for (const item of pending) {
    if (results.has(item.id)) continue;
    const reason = mode === 'verify' ? 'runs only when triggered' : 'not triggered: nothing that triggers it would change';
    results.set(item.id, { id: item.id, status: 'skipped', reason, ms });
  }
}
