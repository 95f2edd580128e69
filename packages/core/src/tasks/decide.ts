import type { Stamp } from './stamps.js';

/** Why a task would run, or why it need not (Carthage's inspect_setup_tasks). */
export type TaskReason =
  | { readonly kind: 'no-stamp' }
  | { readonly kind: 'hash-changed'; readonly from: string | null; readonly to: string | null }
  /** `ranAt` null: the dependency has not run yet but would run in this (plan) run. */
  | { readonly kind: 'dependency'; readonly dependency: string; readonly ranAt: number | null }
  | { readonly kind: 'up-to-date'; readonly ranAt: number };

/** What is known of a task another task depends on. */
export interface DependencyState {
  /** `task` or `host/task`, as shown to the user. */
  readonly id: string;
  /** When it last completed (this run or its stamp); null when never. */
  readonly ranAt: number | null;
  /** Plan and verify: it would run in this run. */
  readonly wouldRun?: boolean | undefined;
}

export interface TaskDecision {
  readonly run: boolean;
  readonly reason: TaskReason;
}

/**
 * Decide whether a task runs: when its stamp is missing, when its hash changed,
 * or when a task it depends on ran after it (or would run now). Pure: the runner
 * and `fettle tasks` share it.
 */
export function decideTask(stamp: Stamp | null, hash: string | null, dependencies: readonly DependencyState[]): TaskDecision {
  if (stamp === null) return { run: true, reason: { kind: 'no-stamp' } };
  if (stamp.hash !== hash) return { run: true, reason: { kind: 'hash-changed', from: stamp.hash, to: hash } };
  const pending = dependencies.find((dependency) => dependency.wouldRun);
  if (pending) return { run: true, reason: { kind: 'dependency', dependency: pending.id, ranAt: null } };
  let newest: DependencyState | undefined;
  for (const dependency of dependencies) {
    if (dependency.ranAt !== null && dependency.ranAt > stamp.ran && (newest?.ranAt ?? -Infinity) < dependency.ranAt) newest = dependency;
  }
  if (newest) return { run: true, reason: { kind: 'dependency', dependency: newest.id, ranAt: newest.ranAt } };
  return { run: false, reason: { kind: 'up-to-date', ranAt: stamp.ran } };
}

function shortHash(value: string | null): string {
  if (value === null) return '(none)';
  const line = value.replace(/\s+/g, ' ');
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
}

/** ISO time without milliseconds, for reports. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One line for humans: `no stamp`, `hash changed from 1 to 2`, … */
export function describeTaskReason(reason: TaskReason): string {
  switch (reason.kind) {
    case 'no-stamp':
      return 'no stamp';
    case 'hash-changed':
      return `hash changed from ${shortHash(reason.from)} to ${shortHash(reason.to)}`;
    case 'dependency':
      return reason.ranAt === null ? `dependency ${reason.dependency} would run` : `dependency ${reason.dependency} ran at ${formatTime(reason.ranAt)}`;
    case 'up-to-date':
      return `up to date (ran at ${formatTime(reason.ranAt)})`;
  }
}
