import type { ItemMap } from '../protocols/item.js';
import type { Plugin } from '../protocols/plugin.js';
import type { SecretStore } from '../protocols/secrets.js';
import { MemoryHostStore, type MemoryInventory } from '../memory-host-store.js';
import { Registry } from '../registry.js';
import { runSite } from './engine.js';
import type { HostResult, ItemResult, RunMode, RunResult } from './results.js';

export interface RunItemsOptions {
  /** Item types and the transport the host uses. */
  readonly plugins: readonly Plugin[];
  /** The host, as a MemoryHostStore entry (`{ transport: 'ssh', address, … }`). */
  readonly host: MemoryInventory['hosts'][string];
  readonly hostName?: string | undefined;
  readonly items: ItemMap;
  readonly mode?: RunMode | undefined;
  /** Folder that relative paths in attributes and options resolve against. */
  readonly siteDir: string;
  readonly secrets?: SecretStore | undefined;
}

/**
 * Plan, verify or apply a set of items on one host without a site: for scripts, and
 * for tests of an item type (with `@fettle/testkit`'s `kit.inventoryHost(name)`).
 */
export async function runItems(options: RunItemsOptions): Promise<{ result: RunResult; host: HostResult; byId: Record<string, ItemResult> }> {
  const name = options.hostName ?? 'host';
  const site = {
    plugins: options.plugins,
    hosts: new MemoryHostStore({ hosts: { [name]: options.host }, defaultRoles: ['items'] }),
    secrets: options.secrets,
    roles: { items: () => options.items },
  };
  const result = await runSite({ site, siteDir: options.siteDir, registry: new Registry(site.plugins), hosts: await site.hosts.listHosts(), mode: options.mode ?? 'apply' });
  const host = result.hosts[0] as HostResult;
  return { result, host, byId: Object.fromEntries(host.items.map((item) => [item.id, item])) };
}
