import pc from 'picocolors';
import type { Plugin } from '@fettle/core';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';
import { installedManifest } from '../plugins/installed.js';

/** What a plugin puts into a site, by kind, as names. */
export type Contributions = Record<'item types' | 'facts' | 'transports' | 'host stores' | 'secret stores' | 'commands', string[]>;

export function contributions(plugin: Plugin): Contributions {
  const names = (list: readonly { readonly name: string }[] | undefined): string[] => (list ?? []).map((entry) => entry.name).sort();
  return {
    'item types': names(plugin.itemTypes),
    facts: names(plugin.facts),
    transports: names(plugin.transports),
    'host stores': names(plugin.hostStores),
    'secret stores': names(plugin.secretStores),
    commands: names(plugin.commands),
  };
}

/** `fettle plugins [--json]`: each plugin the site loads, its installed version, and what it contributes. */
export function pluginsCommand(site: LoadedSite, out: Output): number {
  const plugins = site.registry.plugins.map((plugin) => ({
    name: plugin.name,
    version: installedManifest(site.dir, plugin.name)?.version ?? plugin.version ?? null,
    provides: contributions(plugin),
  }));
  if (out.json) {
    out.document({ plugins });
    return 0;
  }
  for (const plugin of plugins) {
    out.line(`${pc.bold(plugin.name)}${plugin.version ? pc.dim(` ${plugin.version}`) : pc.dim(' (part of the site)')}`);
    for (const [kind, names] of Object.entries(plugin.provides)) {
      if (names.length > 0) out.line(`    ${kind.padEnd(13)} ${names.join(', ')}`);
    }
  }
  return 0;
}
