import { z } from '@fettle/core';

/**
 * State cache migrations: each step takes the file of one schema version to the
 * next, so a cache written by any older fettle is read, not thrown away.
 */

// Version 1 (the fleet prototype): flat per-host records, `version` instead of
// `schemaVersion`, no kernel/arch/uid, updates without arch or reboot data.
const v1Schema = z.object({
  version: z.literal(1),
  hosts: z.record(
    z.string(),
    z.object({
      online: z.boolean(),
      os: z.string().nullable().optional(),
      version: z.string().nullable().optional(),
      flavor: z.string().nullable().optional(),
      packageManager: z.string().nullable().optional(),
      lastRefresh: z.string().nullable().optional(),
      updates: z
        .array(z.object({ name: z.string(), current: z.string().nullable(), new: z.string(), source: z.string().nullable(), security: z.boolean() }))
        .optional(),
    }),
  ),
});

function v1ToV2(data: unknown): unknown {
  const v1 = v1Schema.parse(data);
  const hosts = Object.fromEntries(
    Object.entries(v1.hosts).map(([name, host]) => [
      name,
      {
        online: host.online,
        lastSeen: host.online ? (host.lastRefresh ?? null) : null,
        lastAttempt: host.lastRefresh ?? null,
        lastError: null,
        // v1 lacks kernel, arch and uid: the host is discovered again on next use.
        discovery: null,
        updates:
          host.lastRefresh && host.updates
            ? {
                refreshedAt: host.lastRefresh,
                packages: host.updates.map((u) => ({ name: u.name, arch: null, currentVersion: u.current, newVersion: u.new, source: u.source, security: u.security })),
                rebootRequired: null,
                securityChecked: true,
              }
            : null,
        reposSyncedAt: null,
      },
    ]),
  );
  return { schemaVersion: 2, savedAt: new Date(0).toJSON(), hosts };
}

/** Step from version N to N+1, by N. */
export const MIGRATIONS: Readonly<Record<number, (data: unknown) => unknown>> = { 1: v1ToV2 };

export type Migrated = { kind: 'current'; data: unknown } | { kind: 'newer'; version: number };

/** The schema version of a cache document (`schemaVersion`, or v1's `version`). */
export function versionOf(data: unknown): number {
  if (typeof data === 'object' && data !== null) {
    const record = data as Record<string, unknown>;
    const version = record['schemaVersion'] ?? record['version'];
    if (typeof version === 'number' && Number.isInteger(version) && version > 0) return version;
  }
  throw new Error('no schemaVersion');
}

export function migrate(data: unknown, target: number): Migrated {
  let version = versionOf(data);
  if (version > target) return { kind: 'newer', version };
  let current = data;
  while (version < target) {
    const step = MIGRATIONS[version];
    if (!step) throw new Error(`no migration from schemaVersion ${version}`);
    current = step(current);
    version = versionOf(current);
  }
  return { kind: 'current', data: current };
}
