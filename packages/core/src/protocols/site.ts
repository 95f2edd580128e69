import type { Host, HostStore } from './host.js';
import type { ItemMap } from './item.js';
import type { Plugin } from './plugin.js';
import type { SecretStore, SecretRef } from './secrets.js';
import type { Task } from './task.js';

/** What a role function gets besides the host. */
export interface RoleContext {
  /** A lazy reference to a secret; decrypted only when an item uses it. */
  secret(name: string): SecretRef;
}

/** What a role returns: items, and optionally setup tasks. */
export interface RoleOutput {
  readonly items?: ItemMap | undefined;
  readonly tasks?: readonly Task[] | undefined;
}

/** A role: a function of a host that returns its items (and tasks). */
export type Role = (host: Host, context: RoleContext) => RoleOutput | ItemMap | Promise<RoleOutput | ItemMap>;

/** The contents of `fettle.config.ts`. */
export interface SiteConfig {
  /** Site name, used in reports and packages. Defaults to the package name. */
  readonly name?: string | undefined;
  /** Every plugin the site uses, explicitly. */
  readonly plugins: readonly Plugin[];
  readonly hosts: HostStore;
  readonly secrets?: SecretStore | undefined;
  /** Role name → role function. */
  readonly roles: Readonly<Record<string, Role>>;
  /** Hosts worked on at once (default 32). */
  readonly concurrency?: number | undefined;
}

/**
 * A store named as data: the `name` of a plugin's `hostStores`/`secretStores` entry and
 * the options its `create()` takes (`{ store: 'inventory-conf', options: { path: 'hosts.conf' } }`).
 * The CLI resolves it through the registry when it loads the site.
 */
export interface StoreSpec {
  readonly store: string;
  readonly options?: unknown;
}

/** What `fettle.config.ts` may export: a `SiteConfig` whose stores may also be named as data. */
export interface SiteDefinition extends Omit<SiteConfig, 'hosts' | 'secrets'> {
  readonly hosts: HostStore | StoreSpec;
  readonly secrets?: SecretStore | StoreSpec | undefined;
}

/** Typed identity: a site with store objects stays a `SiteConfig`; one naming stores is resolved on load. */
export function defineSite<T extends SiteDefinition>(config: T): T {
  return config;
}

export function defineRole(role: Role): Role {
  return role;
}
