import type { ItemContext } from '../protocols/item.js';
import { formatError } from '../errors.js';
import type { RunMode } from '../protocols/run.js';
import { decideTask, describeTaskReason, type DependencyState, type TaskReason } from './decide.js';
import type { OrderedTask, TaskRef } from './order.js';
import { stampPath, taskStamps, writeStamp, type Stamp } from './stamps.js';

/**
 * up-to-date: nothing to do. would-run: plan/verify/`fettle tasks` say it would
 * run. readonly: it would run but the host is readonly. ran / skipped / failed: apply.
 */
export type TaskStatus = 'up-to-date' | 'would-run' | 'readonly' | 'ran' | 'skipped' | 'failed';

/** What happened to one task (or would happen), and why. */
export interface TaskReport {
  readonly id: string;
  readonly role: string;
  readonly description: string;
  /** 1-based run position on its host. */
  readonly position: number;
  readonly status: TaskStatus;
  /** Why it runs (or would), or why it need not; absent when it could not be decided. */
  readonly reason?: TaskReason | undefined;
  /** The reason as one line, e.g. `hash changed from 1 to 2`. */
  readonly because: string;
  /** The stamp found on the host before this run. */
  readonly stamp: Stamp | null;
  readonly hash: string | null;
  readonly error?: string | undefined;
  /** When it completed, for tasks that ran in this run. */
  readonly ranAt?: number | undefined;
  readonly ms: number;
}

export interface TaskPhaseOptions {
  readonly mode: RunMode;
  readonly context: ItemContext;
  readonly tasks: readonly OrderedTask[];
  /** The host's stamps, one per task in order (see `askStamps`). */
  readonly stamps: Promise<readonly (Stamp | null)[]>;
  /** State of a task of another host. */
  remote(ref: TaskRef): Promise<DependencyState>;
  /** When set, no task runs and every task is skipped with this reason (an item failed). */
  readonly blocked?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called before the first task that runs (apply); a reason skips it and the rest (the host lock was refused). */
  readonly admit?: (() => Promise<string | undefined>) | undefined;
  onStart?(task: OrderedTask): void;
  onDone?(report: TaskReport): void;
}

/** Ask every stamp of a host synchronously, so the asks travel in one command. */
export function askStamps(context: ItemContext, tasks: readonly OrderedTask[]): Promise<(Stamp | null)[]> {
  const host = context.host.name;
  return Promise.all(tasks.map(({ task }) => context.fact(taskStamps, stampPath(host, task.id))));
}

/** What dependents see of a task once its phase decided or ran it. */
export function dependencyState(id: string, report: TaskReport): DependencyState {
  // Dependents compare against this run's completion time, not the old stamp.
  if (report.status === 'ran') return { id, ranAt: report.ranAt ?? null };
  return { id, ranAt: report.stamp?.ran ?? null, wouldRun: report.status === 'would-run' };
}

function isSkip(error: unknown): error is Error {
  return error instanceof Error && error.name === 'SkipTask';
}

async function hashOf(entry: OrderedTask, context: ItemContext): Promise<{ hash: string | null; error?: string }> {
  try {
    const hash = entry.task.hash ? await entry.task.hash(context) : null;
    if (hash !== null && typeof hash !== 'string') return { hash: null, error: `hash() returned ${typeof hash}, expected a string` };
    return { hash };
  } catch (error) {
    return { hash: null, error: `hash() failed: ${formatError(error)}` };
  }
}

/**
 * Decide, and in apply run, one host's tasks in order. Hashes are computed after
 * the items, all in one tick (their fact asks batch), so a hash may read what the
 * items just wrote. A task that ran gets a fresh stamp at once; a failure stops
 * the tasks after it; SkipTask leaves no stamp, so the task is asked again next run.
 */
export async function runTaskPhase(options: TaskPhaseOptions): Promise<TaskReport[]> {
  const { context, mode } = options;
  const host = context.host;
  const started = Date.now();
  const stamps = await options.stamps;
  const hashes = await Promise.all(options.tasks.map((entry) => hashOf(entry, context)));
  const reports: TaskReport[] = [];
  const local = new Map<string, DependencyState>();
  let stopped: string | undefined = options.blocked;

  for (const [index, entry] of options.tasks.entries()) {
    const { task } = entry;
    const stamp = stamps[index] ?? null;
    const { hash, error: hashError } = hashes[index] as { hash: string | null; error?: string };
    const base = { id: task.id, role: entry.role, description: task.description, position: entry.position, stamp, hash };
    const finish = (report: Omit<TaskReport, keyof typeof base | 'ms'>): void => {
      const full: TaskReport = { ...base, ...report, ms: Date.now() - started };
      reports.push(full);
      local.set(task.id, dependencyState(task.id, full));
      options.onDone?.(full);
    };
    if (stopped !== undefined) {
      finish({ status: 'skipped', because: stopped });
      continue;
    }
    if (options.signal?.aborted) {
      finish({ status: 'skipped', because: 'interrupted' });
      continue;
    }
    if (hashError !== undefined) {
      finish({ status: 'failed', because: hashError, error: hashError });
      if (mode === 'apply' && !host.readonly) stopped = `not run: task ${task.id} failed`;
      continue;
    }
    const remote = await Promise.all(entry.remoteDeps.map((ref) => options.remote(ref)));
    const deps = [...entry.localDeps.map((id) => local.get(id) as DependencyState), ...remote];
    const decision = decideTask(stamp, hash, deps);
    const because = describeTaskReason(decision.reason);
    if (!decision.run) finish({ status: 'up-to-date', reason: decision.reason, because });
    else if (host.readonly) finish({ status: 'readonly', reason: decision.reason, because: `readonly host, not run (would run: ${because})` });
    else if (mode !== 'apply') finish({ status: 'would-run', reason: decision.reason, because });
    else {
      const refused = await options.admit?.();
      if (refused !== undefined) {
        stopped = refused;
        finish({ status: 'skipped', reason: decision.reason, because: refused });
        continue;
      }
      options.onStart?.(entry);
      try {
        await task.run(context);
      } catch (error) {
        if (isSkip(error)) {
          finish({ status: 'skipped', reason: decision.reason, because: `skipped itself: ${error.message}` });
        } else {
          const message = formatError(error);
          finish({ status: 'failed', reason: decision.reason, because, error: message });
          stopped = `not run: task ${task.id} failed`;
        }
        continue;
      }
      const fresh: Stamp = { ran: Date.now(), hash };
      try {
        await writeStamp(context, stampPath(host.name, task.id), fresh);
      } catch (error) {
        const message = `ran, but its stamp could not be written: ${formatError(error)}`;
        finish({ status: 'failed', reason: decision.reason, because, error: message });
        stopped = `not run: task ${task.id} failed`;
        continue;
      }
      finish({ status: 'ran', reason: decision.reason, because, ranAt: fresh.ran });
    }
  }
  return reports;
}
