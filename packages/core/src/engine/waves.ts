import type { ItemGraph } from './graph.js';

/**
 * Which items a host's apply takes up next, from the dependency graph and what is
 * settled so far: small pure questions the wave loop asks (see `applyItems`).
 */

const NO_NEEDS: ReadonlySet<string> = new Set();

export function needsOf(graph: ItemGraph, id: string): ReadonlySet<string> {
  return graph.needs.get(id) ?? NO_NEEDS;
}

/** Every unsettled item whose dependencies are all settled, in graph order: the next wave. */
export function nextWave(graph: ItemGraph, isSettled: (id: string) => boolean): string[] {
  return graph.order.filter((id) => !isSettled(id) && [...needsOf(graph, id)].every(isSettled));
}

/** The items that become ready once `wave` is settled and that need one of it (the next wave, if all goes well). */
export function readyAfter(graph: ItemGraph, isSettled: (id: string) => boolean, wave: ReadonlySet<string>): string[] {
  const done = (id: string): boolean => isSettled(id) || wave.has(id);
  return graph.order.filter((id) => {
    const needs = [...needsOf(graph, id)];
    return !done(id) && needs.every(done) && needs.some((dep) => wave.has(dep));
  });
}

/** Whether nothing is left once `wave` is settled: then its confirm is the host's last batch. */
export function isLastWave(graph: ItemGraph, isSettled: (id: string) => boolean, wave: ReadonlySet<string>): boolean {
  return graph.order.every((id) => isSettled(id) || wave.has(id));
}
