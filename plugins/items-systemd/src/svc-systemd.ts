import { arg, defineItemType, joinShell, sh, z, type Change, type Shell } from '@fettle/core';
import { isEnabled, isMasked, isRunning, unitStatus, UNIT_NAME } from './facts.js';
import { withJournal } from './journal.js';

const attributes = z
  .strictObject({
    /** Started at boot (`systemctl enable` / `disable`). */
    enabled: z.boolean().optional(),
    /** Running now (`systemctl start` / `stop`). */
    running: z.boolean().optional(),
    /** Masked: cannot be started at all (`systemctl mask` / `unmask`). */
    masked: z.boolean().optional(),
  })
  .refine((attrs) => !(attrs.masked === true && (attrs.enabled === true || attrs.running === true)), {
    message: 'a masked unit can be neither enabled nor running',
  });

export type SvcSystemdAttributes = z.output<typeof attributes>;

export function validateUnitName(name: string): string | undefined {
  return UNIT_NAME.test(name) ? undefined : 'expected a systemd unit name such as nginx or nginx.service';
}

/** The package a unit most likely comes from: `nginx.service` → `pkg_apt:nginx`. */
export function packageItemFor(unit: string): string {
  return `pkg_apt:${unit.replace(/\.service$/, '')}`;
}

/**
 * The systemctl commands that turn the actual state into the desired one, in an
 * order that works: unmask before enable/start; stop before mask.
 */
export function unitCommands(unit: string, change: Change): Shell[] {
  const want = change.cdict ?? {};
  const keys = new Set(change.sdict === null ? Object.keys(want) : change.keys);
  const name = arg(unit);
  const commands: Shell[] = [];
  if (keys.has('masked') && want['masked'] === false) commands.push(sh`systemctl unmask ${name}`);
  if (keys.has('enabled')) commands.push(want['enabled'] === true ? sh`systemctl enable ${name}` : sh`systemctl disable ${name}`);
  if (keys.has('running')) commands.push(want['running'] === true ? sh`systemctl start ${name}` : sh`systemctl stop ${name}`);
  if (keys.has('masked') && want['masked'] === true) commands.push(sh`systemctl mask ${name}`);
  return commands;
}

/** A systemd unit: enabled, running, masked — only the attributes given are managed. */
export const svcSystemdItem = defineItemType({
  name: 'svc_systemd',
  description: 'a systemd unit: enabled, running, masked',
  attributes,
  validateName: validateUnitName,
  // A service needs its package, when the site installs it with pkg_apt under the same name,
  // and systemd to have re-read its unit file when the site triggers that.
  implicitNeeds: (item) => [packageItemFor(item.name), `svc_systemd_daemon_reload:${item.name}`],

  cdict(item) {
    const state: Record<string, boolean> = {};
    if (item.attrs.enabled !== undefined) state['enabled'] = item.attrs.enabled;
    if (item.attrs.running !== undefined) state['running'] = item.attrs.running;
    if (item.attrs.masked !== undefined) state['masked'] = item.attrs.masked;
    return state;
  },

  async sdict(item, context) {
    const status = await context.fact(unitStatus, item.name);
    // A masked unit whose file is gone is still "there" for systemd (a link to /dev/null).
    if (status.loadState === 'not-found') return null;
    return {
      enabled: isEnabled(status),
      running: isRunning(status),
      masked: isMasked(status),
      _id: status.id,
      _active_state: status.activeState,
      _unit_file_state: status.unitFileState,
    };
  },

  async fix(change, item, context) {
    if (change.sdict === null) {
      throw new Error(`unit ${item.name} not found (is its package installed, or its unit file written and systemd reloaded?)`);
    }
    const commands = unitCommands(item.name, change);
    if (commands.length > 0) await context.runChecked(withJournal(item.name, joinShell(commands, ' && ')));
  },
});
