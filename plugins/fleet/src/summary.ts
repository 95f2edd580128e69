import { FLEET_REPORT_VERSION, type FleetCommand, type FleetReport, type HostReport, type HostStatus, type Summary, type UnreachableReason } from './model.js';
import { updatesStale, type CacheEntry } from './cache.js';

/** How one host's part of a run ended. */
export interface Outcome {
  readonly status: HostStatus;
  readonly reason?: UnreachableReason | null | undefined;
  readonly message?: string | null | undefined;
  readonly source: 'live' | 'cache';
  readonly durationMs?: number | null | undefined;
  readonly latencyMs?: number | null | undefined;
  readonly warnings?: readonly string[] | undefined;
}

/** A host's line in a report: its cache entry after this run, plus how the run went. */
export function hostReport(name: string, entry: CacheEntry | undefined, outcome: Outcome, now: Date, staleAfterMs: number, securityOnly = false): HostReport {
  const updates = entry?.updates ?? null;
  let discovery = null;
  if (entry?.discovery) {
    const { discoveredAt: _discoveredAt, ...rest } = entry.discovery;
    discovery = rest;
  }
  return {
    name,
    status: outcome.status,
    reason: outcome.reason ?? null,
    message: outcome.message ?? null,
    source: outcome.source,
    online: entry?.online ?? null,
    stale: updatesStale(entry, now, staleAfterMs),
    lastSeen: entry?.lastSeen ?? null,
    lastRefresh: updates?.refreshedAt ?? null,
    durationMs: outcome.durationMs ?? null,
    latencyMs: outcome.latencyMs ?? null,
    discovery,
    updates: updates && securityOnly ? { ...updates, packages: updates.packages.filter((p) => p.security) } : updates,
    warnings: [...(outcome.warnings ?? [])],
  };
}

/** A host's status as the cache remembers it (for `report`). */
export function cachedOutcome(entry: CacheEntry | undefined): Outcome {
  if (!entry?.lastAttempt) return { status: 'unknown', source: 'cache', message: 'never contacted' };
  if (entry.lastError) return { status: entry.lastError.status, reason: entry.lastError.reason, message: entry.lastError.message, source: 'cache' };
  return { status: 'ok', source: 'cache' };
}

export function summarize(hosts: readonly HostReport[]): Summary {
  const count = (status: HostStatus): number => hosts.filter((host) => host.status === status).length;
  let updates = 0;
  let security = 0;
  for (const host of hosts) {
    updates += host.updates?.packages.length ?? 0;
    security += host.updates?.packages.filter((p) => p.security).length ?? 0;
  }
  return {
    hosts: hosts.length,
    ok: count('ok'),
    unreachable: count('unreachable'),
    failed: count('failed'),
    skipped: count('skipped'),
    unknown: count('unknown'),
    stale: hosts.filter((host) => host.stale).length,
    updates,
    security,
    rebootRequired: hosts.filter((host) => host.updates?.rebootRequired === true).length,
  };
}

export function fleetReport(command: FleetCommand, hosts: readonly HostReport[], now: Date, staleAfterMs: number): FleetReport {
  return {
    reportVersion: FLEET_REPORT_VERSION,
    command,
    generatedAt: now.toJSON(),
    staleAfterSeconds: Math.round(staleAfterMs / 1000),
    summary: summarize(hosts),
    hosts: [...hosts],
  };
}

/**
 * 0: every host answered (or was served from a fresh cache, or skipped by policy);
 * 2: some host was unreachable or failed (partial failure); 1: hosts failed and
 * none succeeded, with none unreachable.
 */
export function exitCodeFor(report: FleetReport): number {
  const s = report.summary;
  if (s.unreachable > 0) return 2;
  if (s.failed > 0) return s.ok + s.skipped > 0 ? 2 : 1;
  return 0;
}
