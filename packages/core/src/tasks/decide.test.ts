import { describe, expect, it } from 'vitest';
import { decideTask, describeTaskReason } from './decide.js';
import { parseStamp } from './stamps.js';

const T = Date.UTC(2025, 0, 2, 3, 4, 5);

describe('decideTask', () => {
  it('runs without a stamp', () => {
    const decision = decideTask(null, 'x', []);
    expect(decision).toEqual({ run: true, reason: { kind: 'no-stamp' } });
    expect(describeTaskReason(decision.reason)).toBe('no stamp');
  });

  it('runs when the hash changed, naming both', () => {
    const decision = decideTask({ ran: T, hash: '1.24' }, '1.25', []);
    expect(describeTaskReason(decision.reason)).toBe('hash changed from 1.24 to 1.25');
    expect(describeTaskReason(decideTask({ ran: T, hash: null }, 'v', []).reason)).toBe('hash changed from (none) to v');
  });

  it('runs when a dependency ran after it, naming the newest one and its time', () => {
    const decision = decideTask({ ran: T, hash: null }, null, [
      { id: 'db/a', ranAt: T + 1000 },
      { id: 'db/b', ranAt: T + 5000 },
      { id: 'db/c', ranAt: T - 5000 },
      { id: 'db/d', ranAt: null },
    ]);
    expect(decision.run).toBe(true);
    expect(describeTaskReason(decision.reason)).toBe('dependency db/b ran at 2025-01-02T03:04:10Z');
  });

  it('runs when a dependency would run in this plan', () => {
    expect(describeTaskReason(decideTask({ ran: T, hash: null }, null, [{ id: 'db/a', ranAt: T - 1, wouldRun: true }]).reason)).toBe('dependency db/a would run');
  });

  it('is up to date otherwise', () => {
    const decision = decideTask({ ran: T, hash: 'h' }, 'h', [{ id: 'db/a', ranAt: T }]);
    expect(decision).toEqual({ run: false, reason: { kind: 'up-to-date', ranAt: T } });
    expect(describeTaskReason(decision.reason)).toBe('up to date (ran at 2025-01-02T03:04:05Z)');
  });
});

describe('parseStamp', () => {
  it('reads fettle JSON stamps and falls back to text + mtime', () => {
    expect(parseStamp('{"ran":5,"hash":"h"}\n', 99)).toEqual({ ran: 5, hash: 'h' });
    expect(parseStamp('{"ran":5,"hash":null}', 99)).toEqual({ ran: 5, hash: null });
    expect(parseStamp('some hash\n', 7)).toEqual({ ran: 7000, hash: 'some hash' });
    expect(parseStamp('', 7)).toEqual({ ran: 7000, hash: null });
  });
});
