import { z } from '@fettle/core';

/**
 * The data fleet commands produce, as zod schemas. The `--json` output, the state
 * cache and the published JSON Schema (schema/fleet-report.schema.json) all derive
 * from these, so the three cannot drift apart.
 */

const isoTime = z.iso.datetime().describe('UTC time, as Date.toJSON() writes it');

export const unreachableReasonSchema = z
  .enum(['refused', 'timeout', 'host-key', 'auth', 'dns', 'lost', 'other'])
  .describe('why a host could not be reached (UnreachableError.reason of the transport)');
export type UnreachableReason = z.output<typeof unreachableReasonSchema>;

export const discoverySchema = z
  .strictObject({
    os: z.string().describe('kernel name from uname -s, lowercased: linux, freebsd, …'),
    flavor: z.string().nullable().describe('distribution id from os-release ID: debian, ubuntu, fedora, rhel, alpine, arch, freebsd'),
    version: z.string().nullable().describe('os-release VERSION_ID (FreeBSD: the release from uname -r)'),
    name: z.string().nullable().describe('os-release PRETTY_NAME'),
    kernel: z.string().describe('uname -r'),
    arch: z.string().describe('uname -m'),
    packageManager: z.string().nullable().describe('the package provider that applies (apt, dnf, yum, apk, pacman, pkg), or null when none does'),
    uid: z.number().int().describe('uid of the login user (0: root)'),
    sudo: z.boolean().describe('whether sudo is installed'),
  })
  .describe('what discovery learned about a host');
export type Discovery = z.output<typeof discoverySchema>;

export const packageUpdateSchema = z.strictObject({
  name: z.string(),
  arch: z.string().nullable(),
  currentVersion: z.string().nullable().describe('installed version; null when the update installs a new package'),
  newVersion: z.string(),
  source: z.string().nullable().describe('repository, origin/suite or catalogue that offers it, when the package manager says'),
  security: z.boolean(),
});
export type PackageUpdate = z.output<typeof packageUpdateSchema>;

export const hostUpdatesSchema = z.strictObject({
  refreshedAt: isoTime,
  packages: z.array(packageUpdateSchema),
  rebootRequired: z.boolean().nullable().describe('null when the host cannot tell'),
  securityChecked: z.boolean().describe('false when the package manager gives no security data (apk, pacman without arch-audit)'),
});
export type HostUpdates = z.output<typeof hostUpdatesSchema>;

export const hostStatusSchema = z
  .enum(['ok', 'unreachable', 'failed', 'skipped', 'unknown'])
  .describe('ok; unreachable (see reason); failed (a command failed); skipped (needs root under sudo_policy skip); unknown (never contacted)');
export type HostStatus = z.output<typeof hostStatusSchema>;

export const hostReportSchema = z.strictObject({
  name: z.string(),
  status: hostStatusSchema,
  reason: unreachableReasonSchema.nullable(),
  message: z.string().nullable(),
  source: z.enum(['live', 'cache']).describe('live: the host was contacted in this run; cache: read from the state cache'),
  online: z.boolean().nullable(),
  stale: z.boolean().describe('updates not refreshed within the stale threshold'),
  lastSeen: isoTime.nullable(),
  lastRefresh: isoTime.nullable().describe('when updates were last listed'),
  durationMs: z.number().nullable(),
  latencyMs: z.number().nullable().describe('ping: round trip of one command on the open connection'),
  discovery: discoverySchema.nullable(),
  updates: hostUpdatesSchema.nullable(),
  warnings: z.array(z.string()),
});
export type HostReport = z.output<typeof hostReportSchema>;

export const fleetCommandSchema = z.enum(['discover', 'ping', 'updates', 'sync-repos', 'report']);
export type FleetCommand = z.output<typeof fleetCommandSchema>;

export const summarySchema = z.strictObject({
  hosts: z.number().int(),
  ok: z.number().int(),
  unreachable: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  unknown: z.number().int(),
  stale: z.number().int(),
  updates: z.number().int().describe('pending updates over all hosts'),
  security: z.number().int().describe('pending security updates over all hosts'),
  rebootRequired: z.number().int().describe('hosts that need a reboot'),
});
export type Summary = z.output<typeof summarySchema>;

export const FLEET_REPORT_VERSION = 1;

export const fleetReportSchema = z
  .strictObject({
    reportVersion: z.literal(FLEET_REPORT_VERSION),
    command: fleetCommandSchema,
    generatedAt: isoTime,
    staleAfterSeconds: z.number(),
    summary: summarySchema,
    hosts: z.array(hostReportSchema),
  })
  .meta({
    $id: 'https://fettle.dev/schema/fleet-report.schema.json',
    title: 'fettle fleet report',
    description: 'Output of `fettle discover|ping|updates|sync-repos|report --json`',
  });
export type FleetReport = z.output<typeof fleetReportSchema>;

/** The published JSON Schema of the `--json` output, generated from the zod schema. */
export function fleetReportJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(fleetReportSchema, { target: 'draft-2020-12' });
}
