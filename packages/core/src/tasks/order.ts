import type { Task } from '../protocols/task.js';
import { FettleError } from '../errors.js';

/** A task as declared by a role. */
export interface DeclaredTask {
  readonly role: string;
  readonly task: Task;
}

/** A dependency named in `dependsOn`, resolved to a host. */
export interface TaskRef {
  readonly host: string;
  readonly task: string;
}

/** A host's task in its run position, with its dependencies split by host. */
export interface OrderedTask {
  readonly task: Task;
  readonly role: string;
  /** 1-based position in the host's run order. */
  readonly position: number;
  /** Dependencies on earlier tasks of the same host. */
  readonly localDeps: readonly string[];
  /** Dependencies on tasks of other hosts (cross-object dependencies). */
  readonly remoteDeps: readonly TaskRef[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `task` or `host/task` → a reference; a reference to the same host is local. */
export function parseTaskRef(ref: string, host: string): TaskRef | undefined {
  const slash = ref.lastIndexOf('/');
  const target = slash < 0 ? { host, task: ref } : { host: ref.slice(0, slash), task: ref.slice(slash + 1) };
  return target.host !== '' && ID.test(target.task) ? target : undefined;
}

function check(declared: readonly DeclaredTask[], host: string): void {
  const seen = new Map<string, string>();
  for (const { role, task } of declared) {
    const where = `host ${host}, role ${role}, task ${String(task.id)}`;
    if (typeof task.id !== 'string' || !ID.test(task.id)) {
      throw new FettleError('E_SITE', `task id ${JSON.stringify(task.id)} is not usable as a stamp name`, {
        where,
        expected: 'letters, digits, ".", "_" or "-", starting with a letter or digit',
      });
    }
    if (typeof task.description !== 'string' || task.description.trim() === '') {
      throw new FettleError('E_SITE', `task '${task.id}' has no description`, { where, expected: 'a short description for logs and reports' });
    }
    if (typeof task.run !== 'function') throw new FettleError('E_SITE', `task '${task.id}' has no run() function`, { where });
    const previous = seen.get(task.id);
    if (previous !== undefined) throw new FettleError('E_SITE', `task '${task.id}' is defined twice (roles ${previous} and ${role})`, { where });
    seen.set(task.id, role);
    if (task.order !== undefined && task.before !== undefined) {
      throw new FettleError('E_SITE', `task '${task.id}' sets both order and before`, { where, hint: 'give either order (a number) or before (a task id), not both' });
    }
    if (task.order !== undefined && (typeof task.order !== 'number' || !Number.isFinite(task.order))) {
      throw new FettleError('E_SITE', `task '${task.id}' has order ${String(task.order)}`, { where, expected: 'a finite number' });
    }
  }
  for (const { role, task } of declared) {
    if (task.before === undefined) continue;
    const where = `host ${host}, role ${role}, task ${task.id}`;
    if (task.before === task.id) throw new FettleError('E_SITE', `task '${task.id}' is set to run before itself`, { where });
    if (!seen.has(task.before)) {
      throw new FettleError('E_SITE', `task '${task.id}' runs before '${task.before}', which host ${host} does not have`, {
        where,
        expected: `one of ${[...seen.keys()].join(', ')}`,
      });
    }
  }
}

/**
 * Put a host's tasks in run order. Tasks without `before` run by `order` (default
 * 0; ties keep declaration order: roles in the host's order, tasks in array order).
 * A task with `before: X` runs right before X (several before one X keep their
 * declaration order). Every mistake throws naming the host, role and task.
 */
export function orderTasks(declared: readonly DeclaredTask[], host: string): OrderedTask[] {
  check(declared, host);
  const anchors = declared
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => entry.task.before === undefined)
    .sort((a, b) => (a.entry.task.order ?? 0) - (b.entry.task.order ?? 0) || a.index - b.index)
    .map(({ entry }) => entry);
  const before = new Map<string, DeclaredTask[]>();
  for (const entry of declared) {
    if (entry.task.before !== undefined) before.set(entry.task.before, [...(before.get(entry.task.before) ?? []), entry]);
  }
  const sequence: DeclaredTask[] = [];
  const place = (entry: DeclaredTask): void => {
    for (const earlier of before.get(entry.task.id) ?? []) place(earlier);
    sequence.push(entry);
  };
  for (const anchor of anchors) place(anchor);
  if (sequence.length < declared.length) {
    const stuck = declared.filter((entry) => !sequence.includes(entry)).map((entry) => `${entry.task.id} before ${String(entry.task.before)}`);
    throw new FettleError('E_SITE', `tasks form a 'before' cycle: ${stuck.join(', ')}`, { where: `host ${host}` });
  }

  const positions = new Map(sequence.map((entry, index) => [entry.task.id, index]));
  return sequence.map((entry, index) => {
    const where = `host ${host}, role ${entry.role}, task ${entry.task.id}`;
    const localDeps: string[] = [];
    const remoteDeps: TaskRef[] = [];
    for (const raw of entry.task.dependsOn ?? []) {
      const ref = typeof raw === 'string' ? parseTaskRef(raw, host) : undefined;
      if (!ref) throw new FettleError('E_SITE', `task '${entry.task.id}' depends on ${JSON.stringify(raw)}`, { where, expected: "'task' or 'host/task'" });
      if (ref.host !== host) {
        remoteDeps.push(ref);
        continue;
      }
      const at = positions.get(ref.task);
      if (at === undefined) throw new FettleError('E_SITE', `task '${entry.task.id}' depends on '${ref.task}', which host ${host} does not have`, { where });
      if (at >= index) {
        throw new FettleError('E_SITE', `task '${entry.task.id}' depends on '${ref.task}', which runs ${at === index ? 'as itself' : 'after it'}`, {
          where,
          hint: `give '${ref.task}' a lower order, or 'before: ${entry.task.id}'`,
        });
      }
      localDeps.push(ref.task);
    }
    return { task: entry.task, role: entry.role, position: index + 1, localDeps, remoteDeps };
  });
}
