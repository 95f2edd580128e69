import type { Host } from '../protocols/host.js';
import type { SiteConfig } from '../protocols/site.js';
import type { Transport, TransportDefinition, ConnectContext } from '../protocols/transport.js';
import { isUnreachableError } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import { Redactor } from '../redact.js';
import { formatError } from '../errors.js';
import { resolveTransport } from './connect.js';
import { mapPool } from '../pool.js';
import { buildHostItems, secretResolver, type BuiltHost } from './items.js';
import { buildGraph, type ItemGraph } from './graph.js';
import { HostSession } from './session.js';
import { runHostItems } from './run-host.js';
import { TaskCoordinator } from '../tasks/coordinator.js';
import { summarize, type EngineEvent, type HostResult, type ItemResult, type RunMode, type RunResult } from './results.js';

export interface SiteRunOptions {
  readonly site: SiteConfig;
  readonly siteDir: string;
  readonly registry: Registry;
  readonly hosts: readonly Host[];
  readonly mode: RunMode;
  /** Hosts worked on at once (default: the site's, else 32). */
  readonly concurrency?: number | undefined;
  readonly emit?: ((event: EngineEvent) => void) | undefined;
  readonly confirm?: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
  /** Shared so that callers can scrub their own output with the same secrets. */
  readonly redactor?: Redactor | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly warn?: ((message: string) => void) | undefined;
  readonly prompt?: ConnectContext['prompt'];
}

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
): Promise<PreparedHost[]> {
  return Promise.all(
    hosts.map(async (host) => {
      const { transport, transportOptions } = resolveTransport(registry, host);
      const built = await buildHostItems(host, site, registry, redactor);
      return { built, graph: buildGraph(built.items, host.name), transport, transportOptions };
    }),
  );
}

function hostStatus(items: readonly ItemResult[]): HostResult['status'] {
  if (items.some((item) => item.status === 'failed')) return 'failed';
  if (items.some((item) => item.status === 'changed')) return 'changed';
  return 'ok';
}

/** Plan, verify or apply a site on the given hosts, in a bounded pool. */
export async function runSite(options: SiteRunOptions): Promise<RunResult> {
  const started = Date.now();
  const redactor = options.redactor ?? new Redactor();
  const emit = (event: EngineEvent): void => options.emit?.(redactor.scrubValue(event));
  // Setup tasks run after each host's items; hosts whose tasks others depend on go first.
  const tasks = new TaskCoordinator(options);
  const prepared = await tasks.orderHosts(await prepareHosts(options.site, options.registry, options.hosts, redactor));
  const limit = options.concurrency ?? options.site.concurrency ?? 32;

  const results = await mapPool(prepared, limit, tasks.track(async ({ built, graph, transport, transportOptions }): Promise<HostResult> => {
    const host = built.host;
    const hostStart = Date.now();
    const roundTrips = { execs: 0, fileWrites: 0, fileReads: 0 };
    const done = (result: Omit<HostResult, 'ms' | 'roundTrips' | 'host'>): HostResult => {
      const full = redactor.scrubValue({ host: host.name, ...result, ms: Date.now() - hostStart, roundTrips });
      emit({ type: 'host-done', host: host.name, result: full });
      return full;
    };
    emit({ type: 'host-start', host: host.name });
    if (options.signal?.aborted) return done({ status: 'unreachable', items: [], error: 'interrupted before connecting' });
    let connection: Transport;
    try {
      connection = await transport.connect(host, transportOptions, {
        siteDir: options.siteDir,
        signal: options.signal,
        warn: (message) => options.warn?.(`${host.name}: ${message}`),
        prompt: options.prompt,
      });
    } catch (error) {
      if (isUnreachableError(error)) return done({ status: 'unreachable', items: [], error: error.message, reason: error.reason });
      return done({ status: 'unreachable', items: [], error: `cannot connect: ${formatError(error)}`, reason: 'other' });
    }
    emit({ type: 'host-connected', host: host.name, ms: Date.now() - hostStart });
    const session = new HostSession(host, connection, options.siteDir, secretResolver(host, options.site, redactor));
    try {
      const items = await tasks.around(built, session, emit, () => runHostItems(built, graph, session, { mode: options.mode, emit, confirm: options.confirm }));
      Object.assign(roundTrips, { execs: session.stats.execs, fileWrites: session.stats.fileWrites, fileReads: session.stats.fileReads });
      return done({ status: hostStatus(items), items, readonly: host.readonly && options.mode === 'apply' ? true : undefined });
    } catch (error) {
      return done({ status: 'failed', items: [], error: formatError(error) });
    } finally {
      await connection.close().catch(() => undefined);
    }
  }));
  return { mode: options.mode, summary: summarize(results), hosts: results, ms: Date.now() - started };
}
