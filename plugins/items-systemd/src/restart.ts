import { arg, defineItemType, sh, z, type ItemTypeDefinition, type Shell } from '@fettle/core';
import { withJournal } from './journal.js';
import { validateUnitName } from './svc-systemd.js';

const attributes = z.strictObject({});

/**
 * A canned action on a unit, triggered (`triggered: true` by default) by the items
 * that change its configuration. Its state is one key (`restarted` / `reloaded`):
 * wanted true; false until it runs, and its fix reports true, so the engine's
 * confirm step accepts it without reading anything back.
 */
function cannedAction(
  name: string,
  key: string,
  describe: string,
  command: (unit: Shell) => Shell,
  after: (unit: string) => string[] = (unit) => [`svc_systemd:${unit}`],
): ItemTypeDefinition<typeof attributes> {
  return defineItemType({
    name,
    description: describe,
    attributes,
    validateName: validateUnitName,
    // A restart runs only when something changed it; `triggered: false` opts out.
    commonDefaults: { triggered: true },
    // By default after the unit itself is enabled/started/stopped.
    implicitNeeds: (item) => after(item.name),
    cdict: () => ({ [key]: true }),
    // Not yet run in this apply; once run, fix reports it (there is nothing to read back).
    sdict: () => Promise.resolve({ [key]: false }),
    async fix(_change, item, context) {
      await context.runChecked(withJournal(item.name, command(arg(item.name))));
      return { [key]: true };
    },
  });
}

/** `svc_systemd_restart:<unit>`: restart the unit if it is running (a stopped unit reads its new config when it starts). */
export const svcSystemdRestartItem = cannedAction(
  'svc_systemd_restart',
  'restarted',
  'restart a systemd unit when triggered (only if it is running)',
  (unit) => sh`systemctl try-restart ${unit}`,
);

/** `svc_systemd_reload:<unit>`: reload the unit's configuration if it is running. */
export const svcSystemdReloadItem = cannedAction(
  'svc_systemd_reload',
  'reloaded',
  'reload a systemd unit when triggered (only if it is running)',
  (unit) => sh`if systemctl is-active --quiet ${unit}; then systemctl reload ${unit}; fi`,
);

/**
 * `svc_systemd_daemon_reload:<unit>`: `systemctl daemon-reload`, triggered by the item
 * that writes the unit's file. It runs *before* `svc_systemd:<unit>`, which then reads
 * the unit afresh (a new unit is found, a changed one is no longer stale).
 */
export const svcSystemdDaemonReloadItem = cannedAction(
  'svc_systemd_daemon_reload',
  'reloaded',
  "make systemd re-read unit files when triggered (before the unit's svc_systemd item)",
  () => sh`systemctl daemon-reload`,
  () => [],
);
