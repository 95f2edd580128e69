import type { AnyItemType } from './protocols/item.js';
import type { Plugin, CommandDefinition, StoreDefinition } from './protocols/plugin.js';
import type { TransportDefinition } from './protocols/transport.js';
import type { Fact } from './protocols/fact.js';
import type { HostStore } from './protocols/host.js';
import type { SecretStore } from './protocols/secrets.js';
import { FettleError } from './errors.js';

interface Entry<T> {
  readonly value: T;
  readonly plugin: string;
}

/**
 * Everything the site's plugins provide, by name. Built per site (no module-level
 * state), so two sites can load in one process. Two providers of one name clash.
 */
export class Registry {
  readonly plugins: readonly Plugin[];
  readonly #itemTypes = new Map<string, Entry<AnyItemType>>();
  readonly #transports = new Map<string, Entry<TransportDefinition>>();
  readonly #facts = new Map<string, Entry<Fact<never, unknown>>>();
  readonly #commands = new Map<string, Entry<CommandDefinition>>();
  readonly #hostStores = new Map<string, Entry<StoreDefinition<HostStore>>>();
  readonly #secretStores = new Map<string, Entry<StoreDefinition<SecretStore>>>();

  constructor(plugins: readonly Plugin[]) {
    this.plugins = plugins;
    const seen = new Set<string>();
    for (const plugin of plugins) {
      if (typeof plugin !== 'object' || plugin === null || typeof plugin.name !== 'string') {
        throw new FettleError('E_PLUGIN', 'a plugin in the site is not a plugin object', {
          where: 'fettle.config plugins',
          expected: 'the default export of a fettle plugin package (definePlugin({ name, … }))',
        });
      }
      if (seen.has(plugin.name)) {
        throw new FettleError('E_PLUGIN', `plugin '${plugin.name}' is listed twice`, { where: 'fettle.config plugins' });
      }
      seen.add(plugin.name);
      add(this.#itemTypes, 'item type', plugin, plugin.itemTypes);
      add(this.#transports, 'transport', plugin, plugin.transports);
      // Facts are keyed by name in every host's batch: two of one name would hand one item the other's answer.
      add(this.#facts, 'fact', plugin, plugin.facts, { shareable: true });
      add(this.#commands, 'command', plugin, plugin.commands);
      add(this.#hostStores, 'host store', plugin, plugin.hostStores);
      add(this.#secretStores, 'secret store', plugin, plugin.secretStores);
    }
  }

  itemType(name: string): AnyItemType | undefined {
    return this.#itemTypes.get(name)?.value;
  }
  transport(name: string): TransportDefinition | undefined {
    return this.#transports.get(name)?.value;
  }
  hostStore(name: string): StoreDefinition<HostStore> | undefined {
    return this.#hostStores.get(name)?.value;
  }
  secretStore(name: string): StoreDefinition<SecretStore> | undefined {
    return this.#secretStores.get(name)?.value;
  }
  /** The plugin that provides a fact of this name. */
  factProvider(name: string): string | undefined {
    return this.#facts.get(name)?.plugin;
  }
  get itemTypeNames(): string[] {
    return [...this.#itemTypes.keys()].sort();
  }
  get transportNames(): string[] {
    return [...this.#transports.keys()].sort();
  }
  get hostStoreNames(): string[] {
    return [...this.#hostStores.keys()].sort();
  }
  get secretStoreNames(): string[] {
    return [...this.#secretStores.keys()].sort();
  }
  get commands(): CommandDefinition[] {
    return [...this.#commands.values()].map((entry) => entry.value);
  }
  /** Which plugin provides what, for `fettle plugins`. */
  describe(): { name: string; version: string | undefined; itemTypes: string[]; transports: string[]; commands: string[] }[] {
    return this.plugins.map((plugin) => ({
      name: plugin.name,
      version: plugin.version,
      itemTypes: (plugin.itemTypes ?? []).map((t) => t.name).sort(),
      transports: (plugin.transports ?? []).map((t) => t.name),
      commands: (plugin.commands ?? []).map((c) => c.name),
    }));
  }
}

function add<T extends { readonly name: string }>(
  map: Map<string, Entry<T>>,
  kind: string,
  plugin: Plugin,
  values: readonly T[] | undefined,
  options: { shareable?: boolean } = {},
): void {
  for (const value of values ?? []) {
    const existing = map.get(value.name);
    // One fact shared by two plugins (a template plugin listing the file items' stat fact) is no clash.
    if (options.shareable && existing?.value === value) continue;
    if (existing) {
      throw new FettleError('E_PLUGIN', `${kind} '${value.name}' is provided by two plugins: '${existing.plugin}' and '${plugin.name}'`, {
        where: 'fettle.config plugins',
        hint: `remove one of ${existing.plugin} and ${plugin.name} from the site's plugins`,
      });
    }
    map.set(value.name, { value, plugin: plugin.name });
  }
}
