import { defineItemType, shellQuote, z, type ItemTypeDefinition } from '@fettle/core';
import { isDone, markDone } from './ran.js';
import { validateUnitName } from './svc-systemd.js';

const attributes = z.strictObject({});

/**
 * A canned action on a unit, triggered (`triggered: true` by default) by the items
 * that change its configuration. Its state is one key (`restarted` / `reloaded`):
 * wanted true; actually true only once it ran in this run, so the engine's confirm
 * step accepts it.
 */
function cannedAction(name: string, key: string, describe: string, command: (unit: string) => string): ItemTypeDefinition<typeof attributes> {
  return defineItemType({
    name,
    description: describe,
    attributes,
    validateName: validateUnitName,
    // A restart runs only when something changed it; `triggered: false` opts out.
    commonDefaults: { triggered: true },
    // After the unit itself is enabled/started/stopped.
    implicitNeeds: (item) => [`svc_systemd:${item.name}`],
    cdict: () => ({ [key]: true }),
    sdict: (item, context) => Promise.resolve({ [key]: isDone(context, item.id) }),
    async fix(_change, item, context) {
      await context.runChecked(command(shellQuote(item.name)));
      markDone(context, item.id);
    },
  });
}

/** `svc_systemd_restart:<unit>`: restart the unit if it is running (a stopped unit reads its new config when it starts). */
export const svcSystemdRestartItem = cannedAction(
  'svc_systemd_restart',
  'restarted',
  'restart a systemd unit when triggered (only if it is running)',
  (unit) => `systemctl try-restart ${unit}`,
);

/** `svc_systemd_reload:<unit>`: reload the unit's configuration if it is running. */
export const svcSystemdReloadItem = cannedAction(
  'svc_systemd_reload',
  'reloaded',
  'reload a systemd unit when triggered (only if it is running)',
  (unit) => `if systemctl is-active --quiet ${unit}; then systemctl reload ${unit}; fi`,
);
