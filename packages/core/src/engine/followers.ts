import type { Change } from '../protocols/item.js';
import type { BuiltItem } from './items.js';
import type { ItemGraph } from './graph.js';

/** What the planner needs to know of the run so far. */
export interface FollowerContext {
  readonly graph: ItemGraph;
  readonly items: ReadonlyMap<string, BuiltItem>;
  /** The change found by the last gather of an item (absent: unread, or in its desired state, or unreadable). */
  changeOf(id: string): Change | undefined;
  /** Settled without cascading (ok, changed in an earlier wave…): whether the item's state may be stale is `changedThisRun`. */
  settledFine(id: string): boolean;
  isSettled(id: string): boolean;
  changedThisRun(id: string): boolean;
  /** Whether the item may be fixed now at all (not `skip`, not `triggered`, not held by a soft lock). */
  eligible(item: BuiltItem): boolean;
}

/** An item to fix in a later stage of the same batch as the fixes it depends on. */
export interface Follower {
  readonly item: BuiltItem;
  readonly change: Change;
  /** 1 + the highest stage among the dependencies it follows (the wave being fixed is stage 0). */
  readonly stage: number;
}

/**
 * The items that may be fixed in the same batch as `fixing` (the wave about to be
 * fixed), each in a stage after every dependency it follows. An item follows only
 * when no fix before it can change what its gather saw: every dependency in flight
 * is a `container` that was missing and is being made (an empty folder), the item
 * is path-scoped, lies under it, and was missing too. Anything else — a dependency
 * that exists (a symlink being replaced by a folder: the item was read through the
 * link), an action, a package, a triggered item — waits for its own wave.
 */
export function planFollowers(fixing: readonly { item: BuiltItem; change: Change }[], context: FollowerContext): Follower[] {
  const inFlight = new Map<string, { item: BuiltItem; change: Change; stage: number }>();
  for (const entry of fixing) inFlight.set(entry.item.id, { ...entry, stage: 0 });
  const followers: Follower[] = [];
  for (const id of context.graph.order) {
    if (inFlight.has(id) || context.isSettled(id)) continue;
    const item = context.items.get(id);
    const change = context.changeOf(id);
    if (!item || !change || item.type.pathScope === undefined || change.sdict !== null || !context.eligible(item)) continue;
    const needs = context.graph.needs.get(id) ?? new Set<string>();
    let stage = 0;
    let follows = true;
    for (const dep of needs) {
      const flying = inFlight.get(dep);
      if (flying) {
        if (!makesEmptyContainer(flying) || !isUnder(item.name, flying.item.name)) follows = false;
        else stage = Math.max(stage, flying.stage + 1);
      } else if (!context.settledFine(dep) || context.changedThisRun(dep)) {
        follows = false; // unsettled, failed, or changed since this item was read
      }
      if (!follows) break;
    }
    if (!follows || stage === 0) continue;
    inFlight.set(id, { item, change, stage });
    followers.push({ item, change, stage });
  }
  return followers;
}

function makesEmptyContainer(entry: { item: BuiltItem; change: Change }): boolean {
  return entry.item.type.pathScope === 'container' && entry.change.sdict === null && entry.change.cdict !== null;
}

function isUnder(path: string, folder: string): boolean {
  return path.startsWith(folder.endsWith('/') ? folder : `${folder}/`);
}
