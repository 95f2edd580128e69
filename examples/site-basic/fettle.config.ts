import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import lines from './items/line.js';
import { base } from './roles/base.js';
import { web } from './roles/web.js';

/**
 * Two hosts on the local transport, each confined to its own sandbox folder
 * (sandbox/<host>, git-ignored), so the demo never touches the real machine.
 */
export default defineSite({
  name: 'site-basic',
  plugins: [files, local, lines],
  hosts: new MemoryHostStore({
    defaults: { transport: 'local' },
    hosts: {
      node1: { function: 'webserver', transportOptions: { root: 'sandbox/node1' }, vars: { greeting: 'Hello from node1' } },
      node2: { transportOptions: { root: 'sandbox/node2' } },
    },
    groups: { web: ['node1'], all: ['node1', 'node2'] },
    groupVars: { all: { greeting: 'Hello', admin: 'ops@example.org' } },
    functions: { webserver: ['web'] },
    defaultRoles: ['base'],
  }),
  roles: { base, web },
});
