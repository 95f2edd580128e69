import path from 'node:path';
import { defineSite } from '@fettle/core';
import inventoryConfPlugin, { inventoryConf } from '@fettle/inventory-conf';
import apt from '@fettle/items-apt';
import files from '@fettle/items-files';
import systemd from '@fettle/items-systemd';
import templates from '@fettle/template-eta';
import ssh from '@fettle/transport-ssh';
import { webserver } from './roles/webserver.js';

/** Hosts, groups and roles from inventory.conf; each node's address and vars in nodes/<node>.json. */
const hosts = await inventoryConf(path.join(import.meta.dirname, 'inventory.conf'));

export default defineSite({
  name: 'site-web',
  plugins: [inventoryConfPlugin, ssh, apt, files, templates, systemd],
  hosts,
  roles: { webserver },
});
