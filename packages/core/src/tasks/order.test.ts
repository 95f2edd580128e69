import { describe, expect, it } from 'vitest';
import type { Task } from '../protocols/task.js';
import { orderTasks, type DeclaredTask } from './order.js';

const task = (id: string, extra: Partial<Task> = {}): Task => ({ id, description: `task ${id}`, run: () => Promise.resolve(), ...extra });
const declare = (...tasks: Task[]): DeclaredTask[] => tasks.map((t) => ({ role: 'r', task: t }));
const ids = (declared: DeclaredTask[]) => orderTasks(declared, 'h').map((entry) => entry.task.id);
const error = (fn: () => unknown): string => {
  try {
    fn();
  } catch (caught) {
    const details = caught as { where?: string; expected?: string; message: string };
    return `${details.where ?? ''}: ${details.message} (expected ${details.expected ?? '-'})`;
  }
  throw new Error('expected an error');
};

describe('task order', () => {
  it('runs lower order first; ties and unordered tasks (order 0) keep declaration order', () => {
    expect(ids(declare(task('late', { order: 20 }), task('early', { order: -5 }), task('plain'), task('mid', { order: 10 }), task('plain2')))).toEqual([
      'early',
      'plain',
      'plain2',
      'mid',
      'late',
    ]);
  });

  it('puts a before-task right before its target, chains included', () => {
    const order = ids(declare(task('a', { order: 1 }), task('b', { order: 2 }), task('x', { before: 'b' }), task('y', { before: 'x' }), task('z', { before: 'b' })));
    expect(order).toEqual(['a', 'y', 'x', 'z', 'b']);
    expect(orderTasks(declare(task('a'), task('p', { before: 'a' })), 'h').map((entry) => entry.position)).toEqual([1, 2]);
  });

  it('rejects order and before on one task, naming the task', () => {
    expect(error(() => ids(declare(task('a'), task('both', { order: 3, before: 'a' }))))).toMatch(/host h, role r, task both: task 'both' sets both order and before/);
  });

  it('rejects unknown before targets, before cycles, duplicates and unusable ids', () => {
    expect(error(() => ids(declare(task('a', { before: 'nope' }))))).toMatch(/runs before 'nope', which host h does not have/);
    expect(error(() => ids(declare(task('a', { before: 'b' }), task('b', { before: 'a' }), task('c'))))).toMatch(/'before' cycle: a before b, b before a/);
    expect(error(() => orderTasks([{ role: 'one', task: task('a') }, { role: 'two', task: task('a') }], 'h'))).toMatch(/defined twice \(roles one and two\)/);
    expect(error(() => ids(declare(task('../etc'))))).toMatch(/not usable as a stamp name/);
    expect(error(() => ids(declare(task('a', { order: Number.NaN }))))).toMatch(/expected a finite number/);
  });

  it('splits dependencies into local and cross-host ones; a local one must run earlier', () => {
    const [first, second] = orderTasks(declare(task('a'), task('b', { dependsOn: ['a', 'db/schema', 'h/a'] })), 'h');
    expect(first?.localDeps).toEqual([]);
    expect(second?.localDeps).toEqual(['a', 'a']);
    expect(second?.remoteDeps).toEqual([{ host: 'db', task: 'schema' }]);
    expect(error(() => ids(declare(task('a', { dependsOn: ['b'] }), task('b'))))).toMatch(/depends on 'b', which runs after it/);
    expect(error(() => ids(declare(task('a', { dependsOn: ['zzz'] }))))).toMatch(/depends on 'zzz', which host h does not have/);
    expect(error(() => ids(declare(task('a', { dependsOn: ['db/'] }))))).toMatch(/expected 'task' or 'host\/task'/);
  });
});
