import { FettleError } from '../errors.js';
import type { BuiltItem } from './items.js';

/** Dependencies of every item of one host, resolved to item ids. */
export interface ItemGraph {
  /** id → ids it needs. */
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

/** The set under `key`, made on first use: most items have no edges, and a thousand hosts' empty sets add up. */
function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

/**
 * Build the dependency graph: explicit, reverse, trigger and implicit edges; reject
 * cycles. Only items with edges have an entry in `needs` and `triggers`.
 */
export function buildGraph(list: readonly BuiltItem[], hostName: string): ItemGraph {
  const items = new Map(list.map((item) => [item.id, item]));
  const needs = new Map<string, Set<string>>();
  const triggers = new Map<string, Set<string>>();
  const addEdge = (from: string, to: string): void => {
    if (from !== to) setOf(needs, from).add(to);
  };
  for (const item of list) {
    for (const ref of item.common.needs ?? []) for (const id of expand(ref, items, item, 'needs', hostName)) addEdge(item.id, id);
    for (const ref of item.common.needed_by ?? []) for (const id of expand(ref, items, item, 'needed_by', hostName)) addEdge(id, item.id);
    for (const ref of item.common.triggers ?? []) {
      for (const id of expand(ref, items, item, 'triggers', hostName)) {
        // An item that is not `triggered` runs anyway: a trigger on it would promise something it cannot keep.
        if (!items.get(id)?.common.triggered) {
          throw new FettleError('E_DEPENDENCY', `triggers names '${id}', which is not a triggered item`, {
            where: `host ${hostName}, role ${item.role}, item ${item.id}, attribute 'triggers'`,
            expected: `'${id}' to have triggered: true`,
            hint: `add triggered: true to '${id}', or use needs instead of triggers`,
          });
        }
        addEdge(id, item.id);
        setOf(triggers, item.id).add(id);
      }
    }
    if (item.type.implicitNeeds) {
      for (const id of item.type.implicitNeeds({ id: item.id, name: item.name, attrs: item.attrs, usesSecrets: item.usesSecrets })) if (items.has(id)) addEdge(item.id, id);
    }
  }
  return { needs, triggers, order: topologicalOrder(items.keys(), needs, hostName) };
}

function topologicalOrder(ids: Iterable<string>, needs: ReadonlyMap<string, ReadonlySet<string>>, hostName: string): string[] {
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
    if (deps) for (const dep of [...deps].sort()) visit(dep);
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of ids) visit(id);
  return order;
}
