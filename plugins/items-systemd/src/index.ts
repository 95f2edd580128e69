import { definePlugin } from '@fettle/core';
import { svcSystemdItem } from './svc-systemd.js';
import { svcSystemdDaemonReloadItem, svcSystemdReloadItem, svcSystemdRestartItem } from './restart.js';
import { unitStatus } from './facts.js';

export { svcSystemdItem, svcSystemdRestartItem, svcSystemdReloadItem, svcSystemdDaemonReloadItem, unitStatus };
export { withJournal } from './journal.js';
export { parseUnitStatus, unitStatusCommand, type UnitStatus } from './facts.js';
export type { SvcSystemdAttributes } from './svc-systemd.js';

export default definePlugin({
  name: '@fettle/items-systemd',
  version: '0.1.0',
  itemTypes: [svcSystemdItem, svcSystemdRestartItem, svcSystemdReloadItem, svcSystemdDaemonReloadItem],
  facts: [unitStatus],
});
