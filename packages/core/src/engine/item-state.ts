import type { Change, ItemInstance } from '../protocols/item.js';
import { diffLines, diffStateDicts, validateStateDict, displayValue } from '../statedict.js';
import { formatError } from '../errors.js';
import { secretDetail, secretSafeDiff } from './secret-display.js';
import type { BuiltItem } from './items.js';
import type { HostSession } from './session.js';
import type { ItemResult } from './results.js';

/** What one gather found: the difference to fix (null: in its desired state), or why it could not be read. */
export interface ItemState {
  readonly change: Change | null;
  readonly error?: string | undefined;
}

/** The view of an item that item type code gets. */
export const instance = (item: BuiltItem): ItemInstance<unknown> => ({ id: item.id, name: item.name, attrs: item.attrs, usesSecrets: item.usesSecrets });

/** Compute an item's cdict and sdict (its fact asks join the session's current batch) and diff them. */
export async function gatherItem(item: BuiltItem, session: HostSession): Promise<ItemState> {
  try {
    const view = instance(item);
    const context = session.contextFor(item.id);
    const [cdict, sdict] = await Promise.all([item.type.cdict(view, context), item.type.sdict(view, context)]);
    validateStateDict(cdict, () => `item ${item.id} cdict`);
    validateStateDict(sdict, () => `item ${item.id} sdict`);
    return { change: diffStateDicts(cdict, sdict) };
  } catch (error) {
    return { change: null, error: formatError(error) };
  }
}

/** Gather many items in one tick, so their facts travel in one remote command. */
export async function gatherItems(items: readonly BuiltItem[], session: HostSession): Promise<Map<string, ItemState>> {
  const states = await Promise.all(items.map((item) => gatherItem(item, session)));
  return new Map(items.map((item, index) => [item.id, states[index] as ItemState]));
}

function actionOf(change: Change): ItemResult['action'] {
  if (change.cdict === null) return 'delete';
  return change.sdict === null ? 'create' : 'change';
}

/** The diff lines (and, when asked, the type's detail such as a unified diff) of a change. */
export async function describeChange(
  item: BuiltItem,
  change: Change,
  session: HostSession,
  withDetail: boolean,
): Promise<Pick<ItemResult, 'diff' | 'detail' | 'action'>> {
  const display = (key: string, value: unknown): string => (item.type.displayValue ? item.type.displayValue(key, value) : displayValue(value));
  if (item.usesSecrets || session.tainted.has(item.id)) {
    // Neither the new content nor what the host has now (the old secret, after a rotation).
    return { diff: secretSafeDiff(change, display), detail: secretDetail(change), action: actionOf(change) };
  }
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
