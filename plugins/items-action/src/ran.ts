import type { ItemContext } from '@fettle/core';

/**
 * Items that already ran in this run, per host. The engine gives every host of a
 * run its own context object, so keying on it scopes the marker to one host and
 * one run, and lets the marker be collected with the run (no global state).
 */
const ranByContext = new WeakMap<ItemContext, Set<string>>();

export function markRan(context: ItemContext, id: string): void {
  const ran = ranByContext.get(context) ?? new Set<string>();
  ran.add(id);
  ranByContext.set(context, ran);
}

export function hasRan(context: ItemContext, id: string): boolean {
  return ranByContext.get(context)?.has(id) ?? false;
}
