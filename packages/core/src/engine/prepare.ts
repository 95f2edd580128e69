import type { Host } from '../protocols/host.js';
import type { SiteConfig } from '../protocols/site.js';
import type { TransportDefinition } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import type { Redactor } from '../redact.js';
import { resolveTransport } from './connect.js';
import { buildHostItems, checkHostItems, type BuiltHost, type PrepareOptions } from './items.js';
import { buildGraph, type ItemGraph } from './graph.js';

/** A host with its items validated and its graph built: nothing has touched the host yet. */
export interface PreparedHost {
  readonly built: BuiltHost;
  readonly graph: ItemGraph;
  readonly transport: TransportDefinition;
  readonly transportOptions: unknown;
}

/**
 * Validate everything a run needs before any host is contacted: roles, items,
 * attributes, dependencies, transports. Bad input fails here, whole, with the place named.
 */
export async function prepareHosts(
  site: SiteConfig,
  registry: Registry,
  hosts: readonly Host[],
  redactor: Redactor,
  options: PrepareOptions & { readonly siteDir?: string | undefined } = {},
): Promise<PreparedHost[]> {
  return Promise.all(
    hosts.map(async (host) => {
      const { transport, transportOptions } = resolveTransport(registry, host);
      const built = await buildHostItems(host, site, registry, redactor, options);
      const graph = buildGraph(built.items, host.name);
      // Item types check what they can without a host (templates render, source files exist).
      if (options.siteDir !== undefined) await checkHostItems(built, site, options.siteDir, redactor, options);
      return { built, graph, transport, transportOptions };
    }),
  );
}
