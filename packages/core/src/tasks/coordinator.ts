import { formatError } from '../errors.js';
import type { BuiltHost } from '../engine/items.js';
import type { HostSession } from '../engine/session.js';
import type { EngineEvent, ItemResult, RunMode } from '../engine/results.js';
import type { DependencyState } from './decide.js';
import { orderTasks, type OrderedTask, type TaskRef } from './order.js';
import { askStamps, dependencyState, runTaskPhase, type TaskReport } from './phase.js';
import { RemoteStamps, type TaskSiteOptions } from './remote.js';
import { FettleError } from '../errors.js';

export interface TaskRunOptions extends TaskSiteOptions {
  readonly mode: RunMode;
}

interface HostEntry {
  readonly tasks: readonly OrderedTask[];
  /** Position in the run order; a host waits only for hosts placed before it. */
  index: number;
  /** Its tasks' states once its worker finished (empty when it never got to its tasks). */
  readonly done: Promise<Map<string, DependencyState>>;
  finish(states: Map<string, DependencyState>): void;
  states: Map<string, DependencyState>;
}

/** Task reports as engine results: tasks appear as `task:ID` rows beside the items. */
export function taskResult(report: TaskReport, mode: RunMode): ItemResult {
  const id = `task:${report.id}`;
  const base = { id, reason: report.because, ms: report.ms };
  switch (report.status) {
    case 'up-to-date':
      return { ...base, status: 'ok' };
    case 'would-run':
      return { ...base, status: 'changed', diff: [{ key: mode === 'apply' ? 'ran' : 'would run', want: report.because }] };
    case 'ran':
      return { ...base, status: 'changed', diff: [{ key: 'ran', want: report.because }] };
    case 'failed':
      return { ...base, status: 'failed', error: report.error ?? report.because };
    default:
      return { ...base, status: 'skipped' };
  }
}

/**
 * Runs setup tasks for one plan/apply/verify: after each host's items, in each
 * host's task order. Cross-host dependencies (`host/task`): hosts are ordered so
 * that the host depended on is worked on first and the dependent waits for it,
 * seeing whether it ran in this very run; hosts outside the run (or in a host
 * cycle) are read remotely from their stamps. No stamp mirror on the controller.
 */
export class TaskCoordinator {
  readonly #options: TaskRunOptions;
  readonly #hosts = new Map<string, HostEntry>();
  readonly #remote: RemoteStamps;
  #pending = 0;

  constructor(options: TaskRunOptions) {
    this.#options = options;
    this.#remote = new RemoteStamps(options);
  }

  /**
   * Validate every host's tasks (before any host is contacted) and return the
   * hosts with those depended on first. Throws naming host, role and task.
   */
  async orderHosts<T extends { readonly built: BuiltHost }>(prepared: readonly T[]): Promise<T[]> {
    const names = new Set(prepared.map((entry) => entry.built.host.name));
    const ordered = new Map(prepared.map((entry) => [entry.built.host.name, orderTasks(entry.built.tasks, entry.built.host.name)]));
    let known: Set<string> | undefined;
    for (const [host, tasks] of ordered) {
      for (const entry of tasks) {
        for (const ref of entry.remoteDeps) {
          const where = `host ${host}, role ${entry.role}, task ${entry.task.id}`;
          if (names.has(ref.host)) {
            if (!ordered.get(ref.host)?.some((other) => other.task.id === ref.task)) {
              throw new FettleError('E_SITE', `task '${entry.task.id}' depends on ${ref.host}/${ref.task}, but ${ref.host} has no task '${ref.task}'`, { where });
            }
            continue;
          }
          known ??= new Set((await this.#remote.listHosts()).map((candidate) => candidate.name));
          if (!known.has(ref.host)) throw new FettleError('E_SITE', `task '${entry.task.id}' depends on ${ref.host}/${ref.task}, but there is no host '${ref.host}'`, { where });
        }
      }
    }
    // Kahn's algorithm, stable in selection order; a host cycle is broken at the
    // first host left, whose dependencies on later hosts are then read remotely.
    const needs = new Map([...ordered].map(([host, tasks]) => [host, new Set(tasks.flatMap((t) => t.remoteDeps.map((ref) => ref.host)).filter((h) => names.has(h) && h !== host))]));
    const result: T[] = [];
    const left = [...prepared];
    for (;;) {
      const placed = new Set(result.map((entry) => entry.built.host.name));
      const next = left.find((entry) => [...(needs.get(entry.built.host.name) ?? [])].every((dep) => placed.has(dep))) ?? left[0];
      if (next === undefined) break;
      left.splice(left.indexOf(next), 1);
      result.push(next);
    }
    result.forEach((entry, index) => {
      let finish: (states: Map<string, DependencyState>) => void = () => undefined;
      const done = new Promise<Map<string, DependencyState>>((resolve) => (finish = resolve));
      const hostEntry: HostEntry = { tasks: ordered.get(entry.built.host.name) ?? [], index, done, finish, states: new Map() };
      this.#hosts.set(entry.built.host.name, hostEntry);
    });
    this.#pending = result.length;
    return result;
  }

  /**
   * Wrap the engine's per-host worker so dependents are released however the host
   * ends (unreachable, failed, done), and remote connections close after the last.
   */
  track<T extends { readonly built: BuiltHost }, R>(worker: (input: T, index: number) => Promise<R>): (input: T, index: number) => Promise<R> {
    return async (input, index) => {
      try {
        return await worker(input, index);
      } finally {
        const entry = this.#hosts.get(input.built.host.name);
        entry?.finish(entry.states);
        if (--this.#pending === 0) await this.#remote.close();
      }
    };
  }

  /**
   * Run a host's items, then its tasks. The stamps are asked in the same tick as
   * the items' first gather, so they share its remote command.
   */
  async around(built: BuiltHost, session: HostSession, emit: (event: EngineEvent) => void, runItems: () => Promise<ItemResult[]>): Promise<ItemResult[]> {
    const entry = this.#hosts.get(built.host.name);
    if (!entry || entry.tasks.length === 0) return runItems();
    const stamps = askStamps(session.context, entry.tasks);
    stamps.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    const items = await runItems();
    const failed = items.find((item) => item.status === 'failed');
    const host = built.host.name;
    const mode = this.#options.mode;
    const reports = await runTaskPhase({
      mode,
      context: session.context,
      tasks: entry.tasks,
      stamps,
      blocked: failed && mode === 'apply' ? `not run: item ${failed.id} failed` : undefined,
      signal: this.#options.signal,
      remote: (ref) => this.#dependency(entry, ref),
      onStart: (task) => emit({ type: 'item-start', host, id: `task:${task.task.id}` }),
      onDone: (report) => {
        entry.states.set(report.id, dependencyState(`${host}/${report.id}`, report));
        emit({ type: 'item-done', host, result: taskResult(report, mode) });
      },
    });
    return [...items, ...reports.map((report) => taskResult(report, mode))];
  }

  async #dependency(self: HostEntry, ref: TaskRef): Promise<DependencyState> {
    const id = `${ref.host}/${ref.task}`;
    const other = this.#hosts.get(ref.host);
    if (other && other.index < self.index) {
      const state = (await other.done).get(ref.task);
      if (state) return state;
    }
    try {
      const stamp = await this.#remote.stamp(ref.host, ref.task);
      return { id, ranAt: stamp?.ran ?? null };
    } catch (error) {
      this.#options.warn?.(`cannot check dependency ${id}: ${formatError(error)}`);
      return { id, ranAt: null };
    }
  }
}
