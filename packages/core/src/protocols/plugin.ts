import type { AnyItemType } from './item.js';
import type { Fact } from './fact.js';
import type { Transport, TransportDefinition } from './transport.js';
import type { HostStore, Host } from './host.js';
import type { SecretStore } from './secrets.js';

/** Options of a plugin command: `--flag <value>` strings as commander reads them. */
export interface CommandOption {
  readonly flags: string;
  readonly description: string;
  readonly default?: string | boolean | undefined;
}

/** What a plugin command gets when it runs. */
export interface CommandContext {
  /** Positional arguments. */
  readonly args: readonly string[];
  /** Parsed options by camelCase name. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly siteDir: string;
  /** Load the site (lazily: commands that need none never pay for it). */
  site(): Promise<LoadedSiteView>;
  /** Connect to a host through the transport it names (throws UnreachableError when it cannot). */
  connect(host: Host): Promise<Transport>;
  /** Resolve a selector to hosts (exit 3 when it names none). */
  selectHosts(selector: string | undefined): Promise<readonly Host[]>;
  /** Output sink: honours --json and redaction. */
  readonly out: {
    line(text: string): void;
    json(value: unknown): void;
    error(text: string): void;
  };
  readonly json: boolean;
  readonly isTTY: boolean;
}

export interface LoadedSiteView {
  readonly dir: string;
  readonly hosts: HostStore;
  readonly secrets?: SecretStore | undefined;
}

/** A CLI command contributed by a plugin (`fettle discover`, `fettle secret …`). */
export interface CommandDefinition {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments, in commander syntax: `[selector]`, `<name>`. */
  readonly args?: string | undefined;
  readonly options?: readonly CommandOption[] | undefined;
  /** Subcommands (e.g. `secret set`). */
  readonly subcommands?: readonly CommandDefinition[] | undefined;
  /** Returns the exit code. */
  run?(context: CommandContext): Promise<number>;
}

/** A plugin: an npm package whose default export is `definePlugin({...})`. */
export interface Plugin {
  /** The npm package name, so clashes can name both packages. */
  readonly name: string;
  readonly version?: string | undefined;
  readonly itemTypes?: readonly AnyItemType[] | undefined;
  readonly facts?: readonly Fact<never, unknown>[] | undefined;
  readonly transports?: readonly TransportDefinition[] | undefined;
  readonly commands?: readonly CommandDefinition[] | undefined;
  readonly hostStores?: readonly StoreDefinition<HostStore>[] | undefined;
  readonly secretStores?: readonly StoreDefinition<SecretStore>[] | undefined;
}

/** A named factory of stores, so a site can name a store by type in plain data. */
export interface StoreDefinition<T> {
  readonly name: string;
  readonly description: string;
  create(options: unknown, context: { readonly siteDir: string }): Promise<T>;
}

export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}
