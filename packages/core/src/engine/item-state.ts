import type { Change, ItemInstance, StateDict } from '../protocols/item.js';
import { diffLines, diffStateDicts, isValidStateDict, validateStateDict, displayValue } from '../statedict.js';
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
export function gatherItem(item: BuiltItem, session: HostSession): Promise<ItemState> {
  let cdict: StateDict | null;
  let found: Promise<StateDict | null>;
  try {
    const view = instance(item);
    const context = session.contextFor(item.id);
    // Both asked in this tick (their facts join one batch), then awaited in turn.
    const wanted = item.type.cdict(view, context);
    found = item.type.sdict(view, context);
    if (isThenable(wanted)) return gatherLater(item, wanted, found);
    cdict = wanted;
  } catch (error) {
    return Promise.resolve(failedState(error));
  }
  // A cdict made at once (most: a file's text content) needs no async function per item, with
  // its frame and await closures, times every item of every host: one reaction on the sdict.
  return Promise.resolve(found).then((sdict) => compareStates(item, cdict, sdict), failedState);
}

/** The same for a cdict that is a promise (a `source` file read): the second is awaited even when the first fails, so no rejection is left unhandled. */
async function gatherLater(item: BuiltItem, wanted: PromiseLike<StateDict | null>, found: Promise<StateDict | null>): Promise<ItemState> {
  let cdict: StateDict | null;
  try {
    cdict = await wanted;
  } catch (error) {
    await Promise.resolve(found).catch(() => undefined);
    return failedState(error);
  }
  try {
    return compareStates(item, cdict, await found);
  } catch (error) {
    return failedState(error);
  }
}

function compareStates(item: BuiltItem, cdict: StateDict | null, sdict: StateDict | null): ItemState {
  try {
    checkStateDict(cdict, item, 'cdict');
    checkStateDict(sdict, item, 'sdict');
    const change = diffStateDicts(cdict, sdict);
    return change === null ? IN_STATE : { change };
  } catch (error) {
    return failedState(error);
  }
}

const failedState = (error: unknown): ItemState => ({ change: null, error: formatError(error) });

/** What `await` would wait for (a statedict's values are never functions). */
const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

/** What most gathers find: nothing to do. Shared, it costs nothing per item. */
const IN_STATE: ItemState = Object.freeze({ change: null });

/** Validate a statedict; the place for the message is made only when there is a message. */
function checkStateDict(dict: StateDict | null, item: BuiltItem, which: 'cdict' | 'sdict'): void {
  if (!isValidStateDict(dict)) validateStateDict(dict, `item ${item.id} ${which}`);
}

/** Gather many items in one tick, so their facts travel in one remote command; states in the items' order. */
export function gatherItemStates(items: readonly BuiltItem[], session: HostSession): Promise<ItemState[]> {
  const gathering: Promise<ItemState>[] = new Array<Promise<ItemState>>(items.length);
  for (let index = 0; index < items.length; index++) gathering[index] = gatherItem(items[index] as BuiltItem, session);
  return Promise.all(gathering);
}

/** gatherItemStates by item id. */
export async function gatherItems(items: readonly BuiltItem[], session: HostSession): Promise<Map<string, ItemState>> {
  const states = await gatherItemStates(items, session);
  // Filled in a loop: no [id, state] pair per item on the way.
  const byId = new Map<string, ItemState>();
  for (let index = 0; index < items.length; index++) byId.set((items[index] as BuiltItem).id, states[index] as ItemState);
  return byId;
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
