import { definePlugin } from '@fettle/core';
import { fleetCommands } from './commands.js';

// Fleet operations as plain functions (hosts, connect, cache path, clock in; a report out).
export {
  discover,
  ping,
  listUpdates,
  syncRepos,
  cachedReport,
  defaultCachePath,
  DEFAULT_CONCURRENCY,
  type Connect,
  type FleetOptions,
  type UpdatesOptions,
  type ReportOptions,
} from './fleet.js';
export { exitCodeFor, summarize } from './summary.js';

// The state cache.
export {
  StateCache,
  updatesStale,
  discoveryStale,
  CACHE_SCHEMA_VERSION,
  DEFAULT_STALE_AFTER_MS,
  type CacheEntry,
  type CacheFile,
  type OpenCacheOptions,
} from './cache.js';

// The report data, its zod schemas and the published JSON Schema.
export {
  fleetReportSchema,
  fleetReportJsonSchema,
  hostReportSchema,
  discoverySchema,
  packageUpdateSchema,
  hostUpdatesSchema,
  FLEET_REPORT_VERSION,
  type FleetReport,
  type FleetCommand,
  type HostReport,
  type HostStatus,
  type Discovery,
  type PackageUpdate,
  type HostUpdates,
  type Summary,
  type UnreachableReason,
} from './model.js';
export { renderText, renderMarkdown } from './format.js';
export { renderHtml } from './html.js';

// Package providers: the built-in ones, and what a new one implements.
export { defaultProviders, detectProvider } from './providers/index.js';
export { aptProvider, parseAptSimulation } from './providers/apt.js';
export { dnfProvider, yumProvider, parseDnfCheckUpdate, parseDnfSecurity } from './providers/dnf.js';
export { apkProvider, parseApkVersion } from './providers/apk.js';
export { pacmanProvider, parsePacmanUpdates } from './providers/pacman.js';
export { pkgProvider, parsePkgVersion, parsePkgAudit } from './providers/pkg.js';
export { requireSection, type PackageProvider, type ParsedUpdates, type SectionMap } from './providers/types.js';
export type { Probe } from './probe.js';
export type { Section, SectionResult, SudoPolicy } from './script.js';

export { fleetCommands } from './commands.js';

export default definePlugin({
  name: '@fettle/fleet',
  version: '0.1.0',
  commands: fleetCommands,
});
