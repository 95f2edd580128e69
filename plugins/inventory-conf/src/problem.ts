import { FettleError } from '@fettle/core';

/** An E_INVENTORY error that points at `file:line`, so an editor can jump there. */
export function inventoryError(
  file: string,
  line: number | undefined,
  message: string,
  details: { expected: string; hint?: string; cause?: unknown },
): FettleError {
  return new FettleError('E_INVENTORY', message, {
    where: line === undefined ? file : `${file}:${line}`,
    expected: details.expected,
    ...(details.hint === undefined ? {} : { hint: details.hint }),
    ...(details.cause === undefined ? {} : { cause: details.cause }),
  });
}

/** "a, b, c" for an expected-list, cut short so a big inventory stays readable. */
export function listNames(names: Iterable<string>, empty: string): string {
  const all = [...names];
  if (all.length === 0) return empty;
  const shown = all.slice(0, 12).join(', ');
  return all.length > 12 ? `${shown}, … (${all.length} in all)` : shown;
}
