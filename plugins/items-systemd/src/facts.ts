import { arg, defineFact, sh, type Shell } from '@fettle/core';

/** What systemd says of one unit. */
export interface UnitStatus {
  /** The unit's real name (`sshd` → `ssh.service` on Debian, where sshd is an alias). */
  readonly id: string;
  /** `loaded`, `not-found`, `masked`, `bad-setting`, `error`. */
  readonly loadState: string;
  /** `active`, `reloading`, `inactive`, `failed`, `activating`, `deactivating`. */
  readonly activeState: string;
  /** `enabled`, `disabled`, `static`, `masked`, `indirect`, `generated`, … or empty. */
  readonly unitFileState: string;
}

/** A unit name as systemctl accepts it (no globs: `systemctl show` would not expand them anyway). */
export const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+$/;

export const PROPERTIES = ['Id', 'ActiveState', 'UnitFileState', 'LoadState'] as const;

/** Build the one command that asks systemd about every unit. */
export function unitStatusCommand(units: readonly string[]): Shell {
  for (const unit of units) if (!UNIT_NAME.test(unit)) throw new Error(`systemd.unit-status: not a unit name: ${JSON.stringify(unit)}`);
  return sh`systemctl show -p ${arg(PROPERTIES.join(','))} -- ${units.map((unit) => arg(unit))}`;
}

/**
 * Parse `systemctl show` for several units: one block of KEY=VALUE lines per unit,
 * in the order asked, separated by blank lines (property order within a block is
 * systemd's, not ours).
 */
export function parseUnitStatus(stdout: string, units: readonly string[]): UnitStatus[] {
  const blocks = stdout
    .trim()
    .split(/\n\s*\n/)
    .filter((block) => block.trim() !== '');
  if (blocks.length !== units.length) {
    throw new Error(`systemd.unit-status: expected ${units.length} unit blocks from systemctl show, got ${blocks.length}`);
  }
  return blocks.map((block) => {
    const values = new Map<string, string>();
    for (const line of block.split('\n')) {
      const equals = line.indexOf('=');
      if (equals > 0) values.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim());
    }
    const id = values.get('Id');
    const loadState = values.get('LoadState');
    if (id === undefined || loadState === undefined) throw new Error(`systemd.unit-status: block without Id or LoadState: ${JSON.stringify(block.slice(0, 200))}`);
    return { id, loadState, activeState: values.get('ActiveState') ?? '', unitFileState: values.get('UnitFileState') ?? '' };
  });
}

/** The state of any number of units in one `systemctl show -p Id,ActiveState,UnitFileState,LoadState u1 u2 …`. */
export const unitStatus = defineFact<string, UnitStatus>({
  name: 'systemd.unit-status',
  key: (unit) => unit,
  command: (units) => unitStatusCommand(units),
  parse: (stdout, units) => parseUnitStatus(stdout, units),
});

/** `systemctl is-enabled` exits 0 for these (static and generated units cannot be enabled or disabled). */
const ENABLED = new Set(['enabled', 'enabled-runtime', 'alias', 'static', 'indirect', 'generated', 'transient']);

export function isEnabled(status: UnitStatus): boolean {
  return ENABLED.has(status.unitFileState);
}

/** Running: active, or active and reloading. */
export function isRunning(status: UnitStatus): boolean {
  return status.activeState === 'active' || status.activeState === 'reloading';
}

export function isMasked(status: UnitStatus): boolean {
  return status.loadState === 'masked' || status.unitFileState.startsWith('masked');
}
