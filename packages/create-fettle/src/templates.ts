// The files of a new site. Kept as plain strings so the package ships no template folder.
import type { PackageManager } from './package-manager.js';
import { runPrefix } from './package-manager.js';

/** What a new site depends on; `fettle add NAME` adds the rest. */
export const SITE_DEPENDENCIES = ['@fettle/cli', '@fettle/core', '@fettle/items-files', '@fettle/transport-ssh', '@fettle/inventory-conf'] as const;

export function packageJson(name: string): string {
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: `the fettle site ${name}`,
    scripts: { plan: 'fettle plan', apply: 'fettle apply', verify: 'fettle verify', validate: 'fettle validate' },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export const CONFIG = `import path from 'node:path';
import { defineSite } from '@fettle/core';
import inventory, { inventoryConf } from '@fettle/inventory-conf';
import files from '@fettle/items-files';
import ssh from '@fettle/transport-ssh';
import { base } from './roles/base.js';

// The site: the plugins it loads (\`fettle add NAME\` adds one here), where its hosts
// come from, and the roles that say what each host should look like.
export default defineSite({
  plugins: [inventory, files, ssh],
  hosts: await inventoryConf(path.join(import.meta.dirname, 'inventory.conf')),
  roles: { base },
});
`;

export const INVENTORY = `# Hosts, groups and roles (progfiguration's inventory.conf).
# Each host's address, user and vars live in nodes/<host>.json.

[groups]
web = web1

[node_function_map]
web1 = webserver

[function_role_map]
# the roles of each function; \`default\` is the function of hosts listed in [groups] without one
webserver = base
default = base
`;

export const NODE = `${JSON.stringify({ address: '192.0.2.10', user: 'root', vars: { motd: 'Managed by fettle.' } }, null, 2)}\n`;

export const ROLE = `import { defineRole } from '@fettle/core';

/** Every host: a message of the day. Items are \`type:name\` → attributes. */
export const base = defineRole((host) => ({
  'file:/etc/motd': { content: \`\${String(host.vars['motd'] ?? 'Managed by fettle.')}\\nThis is \${host.name}.\\n\`, mode: '0644' },
}));
`;

export const GITIGNORE = `# dependencies and caches (the compiled config lives in node_modules/.cache/fettle)
node_modules/
.fettle/
*.log
# keys: the controller's age key belongs in ~/.config/fettle, never in git
*.key
*.pem
*-key.txt
keys/
# local sandboxes used with the local transport
sandbox/
`;

export function readme(name: string, manager: PackageManager): string {
  const fettle = runPrefix(manager);
  return `# ${name}

A [fettle](https://www.npmjs.com/package/@fettle/cli) site: the hosts in \`inventory.conf\` and
\`nodes/\`, the roles in \`roles/\`, the plugins in \`fettle.config.ts\`.

## Next steps

1. Put your hosts in \`inventory.conf\` and give each a \`nodes/<host>.json\` with its \`address\` and \`user\`
   (fettle connects with your ssh agent or keys, and checks \`~/.ssh/known_hosts\`).
2. Say what a host should look like in \`roles/\`; \`${fettle} validate\` checks the site without contacting a host.
3. \`${fettle} plan\` shows what would change, with diffs; \`${fettle} apply\` changes it.
4. Add item types and tools by name: \`${fettle} add apt\` (packages), \`${fettle} add systemd\`, \`${fettle} add users\`;
   \`${fettle} plugins\` lists what the site loads.
`;
}
