import path from 'node:path';
import { formatError, isUnreachableError, mapPool, type Host, type Transport } from '@fettle/core';
import { DEFAULT_STALE_AFTER_MS, StateCache, discoveryStale, updatesStale, type CacheEntry } from './cache.js';
import { listHostUpdates, probeHost, providerFor, syncHostRepos } from './host-ops.js';
import type { Discovery, FleetCommand, FleetReport, HostReport } from './model.js';
import { defaultProviders } from './providers/index.js';
import type { PackageProvider } from './providers/types.js';
import { sudoPolicyOf } from './script.js';
import { cachedOutcome, fleetReport, hostReport, type Outcome } from './summary.js';

/** Opens a connection to a host through its transport; throws UnreachableError when it cannot. */
export type Connect = (host: Host) => Promise<Transport>;

export interface FleetOptions {
  readonly hosts: readonly Host[];
  readonly connect: Connect;
  /** The state cache file; see defaultCachePath(). */
  readonly cachePath: string;
  readonly now?: (() => Date) | undefined;
  readonly staleAfterMs?: number | undefined;
  /** Ignore the cache and ask every host. */
  readonly refresh?: boolean | undefined;
  /** Hosts worked on at once (default 32). */
  readonly concurrency?: number | undefined;
  readonly providers?: readonly PackageProvider[] | undefined;
  /** Deadline of each remote command (default 10 minutes). */
  readonly commandTimeoutMs?: number | undefined;
  /** Called as each host finishes, in completion order. */
  readonly onHost?: ((report: HostReport, progress: { done: number; total: number }) => void) | undefined;
  readonly warn?: ((message: string) => void) | undefined;
}

export const DEFAULT_CONCURRENCY = 32;

/** `<site>/.fettle/state.json`. */
export function defaultCachePath(siteDir: string): string {
  return path.join(siteDir, '.fettle', 'state.json');
}

/** What a host's work returns: how it went, and the change to make to its cache entry. */
interface Work {
  readonly outcome: Omit<Outcome, 'source' | 'durationMs'>;
  readonly change?: ((entry: CacheEntry) => CacheEntry) | undefined;
}

type HostWork = (host: Host, entry: CacheEntry | undefined, session: Session) => Promise<Work | 'cached'>;

/** A lazily opened connection, so hosts served from the cache are never contacted. */
interface Session {
  transport(): Promise<Transport>;
  /** Cached discovery when fresh (unless `probe`), else one probe (then remembered for the cache). */
  discovery(probe?: boolean): Promise<Discovery>;
  readonly now: Date;
}

async function runFleet(command: FleetCommand, options: FleetOptions, work: HostWork, securityOnly = false): Promise<FleetReport> {
  const now = options.now ?? (() => new Date());
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const providers = options.providers ?? defaultProviders;
  const warn = options.warn ?? (() => undefined);
  const cache = await StateCache.open({ path: options.cachePath, now, warn });
  cache.warnIfReadOnly();
  let done = 0;
  const reports = await mapPool(options.hosts, options.concurrency ?? DEFAULT_CONCURRENCY, async (host) => {
    const started = Date.now();
    const entry = cache.get(host.name);
    let transport: Transport | undefined;
    let probed: Discovery | undefined;
    const session: Session = {
      now: now(),
      async transport() {
        transport ??= await options.connect(host);
        return transport;
      },
      async discovery(probe = false) {
        const cached = entry?.discovery;
        if (cached && !probe && !options.refresh && !discoveryStale(entry, session.now, staleAfterMs)) return cached;
        probed ??= await probeHost(await session.transport(), providers, options.commandTimeoutMs);
        return probed;
      },
    };
    let outcome: Outcome;
    try {
      const result = await work(host, entry, session);
      if (result === 'cached') {
        outcome = { status: 'ok', source: 'cache' };
      } else {
        outcome = { ...result.outcome, source: 'live', durationMs: Date.now() - started };
        const at = session.now.toJSON();
        cache.set(host.name, (old) => {
          const seen = { ...old, online: true, lastSeen: at, lastAttempt: at, lastError: null };
          const discovered = probed ? { ...seen, discovery: { ...probed, discoveredAt: at } } : seen;
          return result.change ? result.change(discovered) : discovered;
        });
      }
    } catch (error) {
      outcome = failure(error, Date.now() - started);
      const at = session.now.toJSON();
      const unreachable = outcome.status === 'unreachable';
      cache.set(host.name, (old) => ({
        ...old,
        // A command that failed on a connected host still shows it online.
        online: unreachable ? false : transport ? true : old.online,
        lastSeen: !unreachable && transport ? at : old.lastSeen,
        lastAttempt: at,
        lastError: { status: unreachable ? 'unreachable' : 'failed', reason: outcome.reason ?? null, message: outcome.message ?? '', at },
        discovery: probed ? { ...probed, discoveredAt: at } : old.discovery,
      }));
    } finally {
      await transport?.close().catch(() => undefined);
    }
    // Saved as hosts finish (at most once a second), so an interrupted run keeps what it learned.
    if (outcome.source === 'live') cache.saveSoon(1000, (error) => warn(`cannot save the state cache ${cache.path}: ${formatError(error)}`));
    const report = hostReport(host.name, cache.get(host.name), outcome, session.now, staleAfterMs, securityOnly);
    options.onHost?.(report, { done: ++done, total: options.hosts.length });
    return report;
  });
  await cache.save();
  return fleetReport(command, reports, now(), staleAfterMs);
}

function failure(error: unknown, durationMs: number): Outcome {
  if (isUnreachableError(error)) return { status: 'unreachable', reason: error.reason, message: error.message, source: 'live', durationMs };
  // Messages are kept short: they go to the cache and the report, never a stack.
  return { status: 'failed', message: formatError(error).split('\n')[0]?.slice(0, 500) ?? 'failed', source: 'live', durationMs };
}

/** A host needs contacting when forced, when its data is stale, or when its last attempt failed. */
function mustContact(options: FleetOptions, entry: CacheEntry | undefined, stale: boolean): boolean {
  return Boolean(options.refresh) || stale || entry?.lastError != null;
}

/** OS, version, flavor, architecture and package manager of each host: one remote command per host. */
export function discover(options: FleetOptions): Promise<FleetReport> {
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  return runFleet('discover', options, async (_host, entry, session) => {
    if (!mustContact(options, entry, discoveryStale(entry, session.now, staleAfterMs))) return 'cached';
    await session.discovery(true);
    return { outcome: { status: 'ok' } };
  });
}

/** Reachable and authenticated? Always asks the host; the latency is one command on the open connection. */
export function ping(options: FleetOptions): Promise<FleetReport> {
  return runFleet('ping', options, async (_host, _entry, session) => {
    const transport = await session.transport();
    const started = performance.now();
    const result = await transport.exec('true', { timeoutMs: options.commandTimeoutMs ?? 30_000 });
    if (result.code !== 0) throw new Error(`\`true\` exited with ${result.code ?? result.signal ?? 'no code'}: ${result.stderr.toString('utf8').trim()}`);
    return { outcome: { status: 'ok', latencyMs: Math.round((performance.now() - started) * 10) / 10 } };
  });
}

export interface UpdatesOptions extends FleetOptions {
  /** Report only security updates. */
  readonly securityOnly?: boolean | undefined;
}

/** Pending updates of each host, from the cache unless stale (or `refresh`). */
export function listUpdates(options: UpdatesOptions): Promise<FleetReport> {
  const providers = options.providers ?? defaultProviders;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  return runFleet(
    'updates',
    options,
    async (host, entry, session) => {
      if (!mustContact(options, entry, updatesStale(entry, session.now, staleAfterMs))) return 'cached';
      const policy = sudoPolicyOf(host.vars); // a bad value fails before the host is contacted
      const discovery = await session.discovery();
      const provider = providerFor(discovery, providers);
      if (typeof provider === 'string') return { outcome: { status: 'skipped', message: provider } };
      const privilege = { uid: discovery.uid, policy };
      const { updates, warnings } = await listHostUpdates(await session.transport(), provider, privilege, session.now, options.commandTimeoutMs);
      return { outcome: { status: 'ok', warnings }, change: (e) => ({ ...e, updates }) };
    },
    options.securityOnly,
  );
}

/** Refresh package lists (apt-get update, dnf makecache, …); always asks the host. */
export function syncRepos(options: FleetOptions): Promise<FleetReport> {
  const providers = options.providers ?? defaultProviders;
  return runFleet('sync-repos', options, async (host, _entry, session) => {
    const policy = sudoPolicyOf(host.vars);
    const discovery = await session.discovery();
    const provider = providerFor(discovery, providers);
    if (typeof provider === 'string') return { outcome: { status: 'skipped', message: provider } };
    const result = await syncHostRepos(await session.transport(), provider, { uid: discovery.uid, policy }, options.commandTimeoutMs);
    if (result.status === 'skipped') return { outcome: { status: 'skipped', message: result.message } };
    // A sync makes the listed updates stale (updatesStale compares the two times).
    return { outcome: { status: 'ok' }, change: (e) => ({ ...e, reposSyncedAt: session.now.toJSON() }) };
  });
}

export interface ReportOptions {
  readonly hosts: readonly Host[];
  readonly cachePath: string;
  readonly now?: (() => Date) | undefined;
  readonly staleAfterMs?: number | undefined;
  readonly warn?: ((message: string) => void) | undefined;
}

/** What the cache knows of each host, without contacting any. */
export async function cachedReport(options: ReportOptions): Promise<FleetReport> {
  const now = (options.now ?? (() => new Date()))();
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const cache = await StateCache.open({ path: options.cachePath, now: () => now, warn: options.warn });
  const hosts = options.hosts.map((host) => hostReport(host.name, cache.get(host.name), cachedOutcome(cache.get(host.name)), now, staleAfterMs));
  return fleetReport('report', hosts, now, staleAfterMs);
}
