import type { Host } from './host.js';
import type { ItemContext } from './item.js';

/**
 * A setup task (Carthage): runs when its stamp is missing or stale. This is the
 * protocol only; the runner lives in the engine.
 */
export interface Task {
  /** Unique within its object (host), used in the stamp path. */
  readonly id: string;
  readonly description: string;
  /** Position among the object's tasks (lower first). Exclusive with `before`. */
  readonly order?: number | undefined;
  /** Run before the task with this id. Exclusive with `order`. */
  readonly before?: string | undefined;
  /** A value stored in the stamp; when it changes the task runs again. */
  hash?(context: TaskContext): string | Promise<string>;
  /** Tasks (possibly of other hosts: `host/task`) whose newer run makes this one run again. */
  readonly dependsOn?: readonly string[] | undefined;
  run(context: TaskContext): Promise<void>;
}

export interface TaskContext extends ItemContext {
  readonly host: Host;
}

/** Thrown by a task to skip itself (Carthage's SkipSetupTask). */
export class SkipTask extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SkipTask';
  }
}
