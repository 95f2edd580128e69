import path from 'node:path';
import { definePlugin, parseOrThrow, z, type HostStore, type Plugin, type StoreDefinition } from '@fettle/core';
import pkg from '../package.json' with { type: 'json' };
import { inventoryConf } from './store.js';

const optionsSchema = z
  .strictObject({
    /** inventory.conf, relative to the site folder. */
    path: z.string().min(1).default('inventory.conf'),
    groupsDir: z.string().min(1).optional(),
    nodesDir: z.string().min(1).optional(),
    defaultTransport: z.string().min(1).optional(),
  })
  .default({ path: 'inventory.conf' });

/** `hostStores: [{ name: 'inventory-conf', … }]`: the store by name, for sites that configure stores as data. */
export const inventoryConfStore: StoreDefinition<HostStore> = {
  name: 'inventory-conf',
  description: 'hosts, groups, functions and roles from a progfiguration-style inventory.conf, with groups/*.json and nodes/*.json beside it',
  async create(options, { siteDir }) {
    const parsed = parseOrThrow(optionsSchema, options, 'E_INVENTORY', 'inventory-conf host store options');
    return inventoryConf(path.resolve(siteDir, parsed.path), {
      groupsDir: parsed.groupsDir,
      nodesDir: parsed.nodesDir,
      defaultTransport: parsed.defaultTransport,
    });
  },
};

export const plugin: Plugin = definePlugin({
  name: '@fettle/inventory-conf',
  version: pkg.version,
  hostStores: [inventoryConfStore],
});
