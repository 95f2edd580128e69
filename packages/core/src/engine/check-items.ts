import type { BuiltHost } from './items.js';
import type { HostSession } from './session.js';
import { describeChange, gatherItems } from './item-state.js';
import type { EngineEvent, ItemResult } from './results.js';

/** Check every item without changing anything (plan, verify, readonly hosts): one gather, then a diff per item. */
export async function checkItems(built: BuiltHost, session: HostSession, emit: (event: EngineEvent) => void, withDetail: boolean): Promise<ItemResult[]> {
  const started = Date.now();
  const states = await gatherItems(
    built.items.filter((item) => !item.common.skip && !item.common.triggered),
    session,
  );
  return Promise.all(
    built.items.map(async (item): Promise<ItemResult> => {
      const state = states.get(item.id);
      const ms = Date.now() - started;
      let result: ItemResult;
      if (!state) result = { id: item.id, status: 'skipped', reason: item.common.skip ? 'skip attribute' : 'runs only when triggered', ms };
      else if (state.error !== undefined) result = { id: item.id, status: 'failed', error: state.error, ms };
      else if (state.change === null) result = { id: item.id, status: 'ok', ms };
      else result = { id: item.id, status: 'changed', ...(await describeChange(item, state.change, session, withDetail)), ms };
      emit({ type: 'item-done', host: built.host.name, result });
      return result;
    }),
  );
}
