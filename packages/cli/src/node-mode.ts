import { hostname } from 'node:os';
import path from 'node:path';
import { FettleError, Registry, type Host, type SecretStore } from '@fettle/core';
import local from '@fettle/transport-local';
import type { LoadedSite } from './site.js';

/** Where a node keeps its own age identity, under its root (progfiguration's node_fallback_age_path). */
export const NODE_KEY_PATH = 'etc/fettle/node.age';

export interface NodeModeOptions {
  /** The node's name in the inventory; default: this machine's host name. */
  readonly node?: string | undefined;
  /** The folder that is `/` for the node's items (default `/`; a sandbox in tests). */
  readonly root?: string | undefined;
  /** The node's age identity file; default `<root>/etc/fettle/node.age`. */
  readonly nodeKey?: string | undefined;
}

/** The inventory host this machine is: `--node`, else the host name (or its first label). */
export async function identifyNode(site: LoadedSite, name: string | undefined): Promise<Host> {
  const hosts = await site.listHosts();
  const own = hostname();
  // A host name may be fully qualified where the inventory has the short name.
  const given = name ?? own;
  const candidates = [given, given.split('.')[0] ?? given];
  const host = hosts.find((entry) => candidates.includes(entry.name));
  if (!host) {
    throw new FettleError('E_ARGUMENT', name !== undefined ? `no host named '${name}' in the site` : `this machine's host name '${own}' is no host of the site`, {
      where: site.hosts.describe,
      expected: `one of ${hosts.map((entry) => entry.name).join(', ') || '(no hosts)'}`,
      hint: name === undefined ? 'name the node with --node NAME' : undefined,
    });
  }
  return host;
}

/**
 * Secrets as the node itself reads them: decrypted with the node's own key, never
 * the controller's (which a node does not have). A store that cannot decrypt as a
 * host says so when a secret is first used.
 */
function nodeSecrets(store: SecretStore, keyFile: string, node: string): SecretStore {
  return {
    describe: `${store.describe}, read with the key of ${node} (${keyFile})`,
    list: () => store.list(),
    set: () => Promise.reject(new FettleError('E_SECRET', 'secrets cannot be changed from a node', { where: `node ${node}` })),
    get(name) {
      if (!store.getAsHost) {
        return Promise.reject(
          new FettleError('E_SECRET', `the secret store (${store.describe}) cannot decrypt on a node`, { where: `node ${node}`, expected: 'a store with getAsHost(), such as @fettle/secrets-age' }),
        );
      }
      return store.getAsHost(name, { file: keyFile });
    },
  };
}

/**
 * The site as one node sees it when it applies itself (deploy, pull, a bundle run
 * with `--node`): only that host, reached through the local transport at `root`,
 * its secrets decrypted with its own key.
 */
export async function siteAsNode(site: LoadedSite, options: NodeModeOptions): Promise<LoadedSite> {
  const found = await identifyNode(site, options.node);
  const root = path.resolve(options.root ?? '/');
  const host: Host = { ...found, transport: 'local', transportOptions: { root } };
  const plugins = site.registry.transport('local') ? site.config.plugins : [...site.config.plugins, local];
  const keyFile = path.resolve(options.nodeKey ?? path.join(root, NODE_KEY_PATH));
  const secrets = site.config.secrets ? nodeSecrets(site.config.secrets, keyFile, host.name) : undefined;
  const config = { ...site.config, plugins, secrets };
  return {
    ...site,
    config,
    registry: plugins === site.config.plugins ? site.registry : new Registry(plugins),
    secrets,
    listHosts: () => Promise.resolve([host]),
    select(selector) {
      if (selector !== undefined && selector !== host.name) {
        return Promise.reject(new FettleError('E_SELECTOR', `a node applies only itself ('${host.name}'), not '${selector}'`, { where: 'selector' }));
      }
      return Promise.resolve([host]);
    },
  };
}
