import { FettleError } from '../errors.js';
import type { BuiltItem } from './items.js';

/** Dependencies of every item of one host, resolved to item ids. */
export interface ItemGraph {
  /** id → ids it needs (items that need the same single item share one set: never change one). */
  readonly needs: ReadonlyMap<string, ReadonlySet<string>>;
  /** id → ids it triggers when it changed. */
  readonly triggers: ReadonlyMap<string, ReadonlySet<string>>;
  /** Ids in an order that respects every dependency. */
  readonly order: readonly string[];
}

function expand(reference: string, items: ReadonlyMap<string, BuiltItem>, from: BuiltItem, attribute: string, hostName: string): string[] {
  // `type:` (nothing after the colon) means every item of that type.
  if (reference.endsWith(':')) {
    const typeName = reference.slice(0, -1);
    return [...items.values()].filter((item) => item.typeName === typeName && item.id !== from.id).map((item) => item.id);
  }
  if (!items.has(reference)) {
    throw new FettleError('E_DEPENDENCY', `${attribute} names '${reference}', which is not an item of this host`, {
      where: `host ${hostName}, role ${from.role}, item ${from.id}, attribute '${attribute}'`,
    });
  }
  return [reference];
}

const NONE: readonly string[] = [];

/**
 * Build the dependency graph: explicit, reverse, trigger and implicit edges; reject
 * cycles. Only items with edges have an entry in `needs` and `triggers`.
 */
export function buildGraph(list: readonly BuiltItem[], hostName: string): ItemGraph {
  const items = new Map<string, BuiltItem>();
  // Indexed loops: an iterator step per item (and per list of each item), times every item of every host, is garbage the run waits on.
  for (let index = 0; index < list.length; index++) {
    const item = list[index] as BuiltItem;
    items.set(item.id, item);
  }
  const needs = new NeedSets();
  const triggers = new Map<string, Set<string>>();
  for (let index = 0; index < list.length; index++) {
    const item = list[index] as BuiltItem;
    const common = item.common;
    const explicit = common.needs ?? NONE;
    for (let i = 0; i < explicit.length; i++) for (const id of expand(explicit[i] as string, items, item, 'needs', hostName)) needs.add(item.id, id);
    const neededBy = common.needed_by ?? NONE;
    for (let i = 0; i < neededBy.length; i++) for (const id of expand(neededBy[i] as string, items, item, 'needed_by', hostName)) needs.add(id, item.id);
    const triggered = common.triggers ?? NONE;
    for (let i = 0; i < triggered.length; i++) {
      for (const id of expand(triggered[i] as string, items, item, 'triggers', hostName)) {
        // An item that is not `triggered` runs anyway: a trigger on it would promise something it cannot keep.
        if (!items.get(id)?.common.triggered) {
          throw new FettleError('E_DEPENDENCY', `triggers names '${id}', which is not a triggered item`, {
            where: `host ${hostName}, role ${item.role}, item ${item.id}, attribute 'triggers'`,
            expected: `'${id}' to have triggered: true`,
            hint: `add triggered: true to '${id}', or use needs instead of triggers`,
          });
        }
        needs.add(id, item.id);
        let set = triggers.get(item.id);
        if (!set) triggers.set(item.id, (set = new Set()));
        set.add(id);
      }
    }
    if (item.type.implicitNeeds) {
      const implicit = item.type.implicitNeeds({ id: item.id, name: item.name, attrs: item.attrs, usesSecrets: item.usesSecrets });
      for (let i = 0; i < implicit.length; i++) {
        const id = implicit[i] as string;
        if (items.has(id)) needs.add(item.id, id);
      }
    }
  }
  return { needs: needs.byId, triggers, order: topologicalOrder(list, needs.byId, hostName) };
}

/**
 * Every item's needs, with one set shared by all the items that need the same single
 * item (the hundred files of a folder need only the folder): a prepared host holds one
 * set, not one per file, until its run. A shared set is copied before it grows.
 */
class NeedSets {
  readonly byId = new Map<string, Set<string>>();
  readonly #single = new Map<string, Set<string>>();
  readonly #shared = new Set<Set<string>>();

  add(from: string, to: string): void {
    if (from === to) return;
    const set = this.byId.get(from);
    if (set === undefined) {
      let single = this.#single.get(to);
      if (single === undefined) {
        single = new Set([to]);
        this.#single.set(to, single);
        this.#shared.add(single);
      }
      this.byId.set(from, single);
    } else if (!set.has(to)) {
      if (this.#shared.has(set)) this.byId.set(from, new Set(set).add(to));
      else set.add(to);
    }
  }
}

function topologicalOrder(list: readonly BuiltItem[], needs: ReadonlyMap<string, ReadonlySet<string>>, hostName: string): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): void => {
    const current = state.get(id);
    if (current === 'done') return;
    if (current === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(id)), id];
      throw new FettleError('E_DEPENDENCY', `dependency cycle: ${cycle.join(' -> ')}`, {
        where: `host ${hostName}`,
        hint: 'remove one of these needs/needed_by/triggers',
      });
    }
    state.set(id, 'visiting');
    stack.push(id);
    const deps = needs.get(id);
    // Sorted, so the order does not depend on the order edges were found in (one need has no order to fix).
    // forEach for the one need most items have: no iterator for it.
    if (deps?.size === 1) deps.forEach(visit);
    else if (deps) for (const dep of [...deps].sort()) visit(dep);
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (let index = 0; index < list.length; index++) visit((list[index] as BuiltItem).id);
  return order;
}
