import { arg, sh, type Shell } from '@fettle/core';

/** How many journal lines a failure carries: enough for the cause, short enough to read. */
export const JOURNAL_LINES = 10;

/**
 * Wraps a systemctl command so that, when it fails, the unit's last journal lines
 * follow systemctl's own message on stderr — in the same round trip, so the report
 * says why a unit failed instead of "see journalctl -xeu".
 */
export function withJournal(unit: string, command: Shell): Shell {
  const heading = arg(`--- journalctl -u ${unit} (last ${JOURNAL_LINES} lines) ---`);
  return sh`{ ${command}; } || { rc=$?; printf '\\n%s\\n' ${heading} >&2; journalctl -u ${arg(unit)} -n ${JOURNAL_LINES} --no-pager -o short-iso >&2 || true; exit $rc; }`;
}
