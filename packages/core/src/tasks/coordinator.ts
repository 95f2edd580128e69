import type { ItemContext } from '../protocols/item.js';
import type { RunMode } from '../protocols/run.js';
import { FettleError, formatError } from '../errors.js';
import type { DependencyState } from './decide.js';
import { orderTasks, type DeclaredTask, type OrderedTask, type TaskRef } from './order.js';
import { askStamps, dependencyState, runTaskPhase, type TaskReport } from './phase.js';
import { RemoteStamps, type TaskSiteAccess } from './remote.js';

export interface TaskRunOptions extends TaskSiteAccess {
  readonly mode: RunMode;
  readonly signal?: AbortSignal | undefined;
}

/** A host as the coordinator sees it: its name and the tasks its roles declared. */
export interface TaskHost {
  readonly name: string;
  readonly tasks: readonly DeclaredTask[];
}

/** One host's tasks for one run, their stamps already asked (see `TaskCoordinator.begin`). */
export interface HostTasks {
  /** Decide, and in apply run, the tasks; `blocked` skips them all with that reason (an item failed). */
  run(hooks: {
    blocked?: string | undefined;
    admit?: (() => Promise<string | undefined>) | undefined;
    onStart?: (task: OrderedTask) => void;
    onDone?: (report: TaskReport) => void;
  }): Promise<TaskReport[]>;
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
  async orderHosts<T>(prepared: readonly T[], describe: (entry: T) => TaskHost): Promise<T[]> {
    const nameOf = (entry: T): string => describe(entry).name;
    const names = new Set(prepared.map(nameOf));
    const ordered = new Map(prepared.map((entry) => [nameOf(entry), orderTasks(describe(entry).tasks, nameOf(entry))]));
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
      const placed = new Set(result.map(nameOf));
      const next = left.find((entry) => [...(needs.get(nameOf(entry)) ?? [])].every((dep) => placed.has(dep))) ?? left[0];
      if (next === undefined) break;
      left.splice(left.indexOf(next), 1);
      result.push(next);
    }
    result.forEach((entry, index) => {
      let finish: (states: Map<string, DependencyState>) => void = () => undefined;
      const done = new Promise<Map<string, DependencyState>>((resolve) => (finish = resolve));
      this.#hosts.set(nameOf(entry), { tasks: ordered.get(nameOf(entry)) ?? [], index, done, finish, states: new Map() });
    });
    this.#pending = result.length;
    return result;
  }

  /**
   * Start a host's tasks: their stamps are asked now, in the same tick as the
   * items' first gather, so they share its remote command. Null when the host has no tasks.
   */
  begin(hostName: string, context: ItemContext): HostTasks | null {
    const entry = this.#hosts.get(hostName);
    if (!entry || entry.tasks.length === 0) return null;
    const stamps = askStamps(context, entry.tasks);
    stamps.catch(() => undefined); // awaited by run(); never an unhandled rejection meanwhile
    return {
      run: (hooks) =>
        runTaskPhase({
          mode: this.#options.mode,
          context,
          tasks: entry.tasks,
          stamps,
          blocked: hooks.blocked,
          admit: hooks.admit,
          signal: this.#options.signal,
          remote: (ref) => this.#dependency(entry, ref),
          onStart: hooks.onStart,
          onDone: (report) => {
            entry.states.set(report.id, dependencyState(`${hostName}/${report.id}`, report));
            hooks.onDone?.(report);
          },
        }),
    };
  }

  /**
   * A host is finished, however it ended (unreachable, failed, done): its
   * dependents are released, and remote connections close after the last host.
   */
  async finished(hostName: string): Promise<void> {
    const entry = this.#hosts.get(hostName);
    entry?.finish(entry.states);
    if (--this.#pending === 0) await this.#remote.close();
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
