import type { ItemContext } from '@fettle/core';

/**
 * Restarts and reloads done in this run, per host. The engine gives every host of
 * a run its own context object, so keying on it scopes the marker to one host and
 * one run (no global state survives the run).
 */
const doneByContext = new WeakMap<ItemContext, Set<string>>();

export function markDone(context: ItemContext, id: string): void {
  const done = doneByContext.get(context) ?? new Set<string>();
  done.add(id);
  doneByContext.set(context, done);
}

export function isDone(context: ItemContext, id: string): boolean {
  return doneByContext.get(context)?.has(id) ?? false;
}
