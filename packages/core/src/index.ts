export type { Host, HostStore, ExplainedVar, VarOrigin } from './protocols/host.js';
export type { SecretStore, SecretReaders, SecretRef } from './protocols/secrets.js';
export { secret, isSecretRef } from './protocols/secrets.js';
export type {
  Transport,
  TransportDefinition,
  ExecResult,
  ExecOptions,
  FileOwnership,
  FileData,
  BatchLink,
  LocalFile,
  RemoteStat,
  ConnectContext,
  TransportHop,
  TransportDescription,
} from './protocols/transport.js';
export { defineTransport, UnreachableError, isUnreachableError, isLocalFile } from './protocols/transport.js';
export type { Fact, FactEnv, FactPerQuery, QueryOutput } from './protocols/fact.js';
export { defineFact, defineFactPerQuery, factEnv } from './protocols/fact.js';
export type { Shell, HostPath, ShellValue, ShellSeparator } from './protocols/shell.js';
export { sh, arg, rawShell, joinShell, shellQuote, isShell } from './protocols/shell.js';
export type {
  Scalar,
  StateValue,
  StateDict,
  Change,
  ItemInstance,
  ItemContext,
  WriteOptions,
  CheckContext,
  RunResult as CommandResult,
  DiffLine,
  ItemTypeDefinition,
  AnyItemType,
  CommonAttributes,
  ItemMap,
} from './protocols/item.js';
export { defineItemType } from './protocols/item.js';
export type { Task, TaskContext } from './protocols/task.js';
export { SkipTask } from './protocols/task.js';
export type { Plugin, CommandDefinition, CommandContext, CommandOption, StoreDefinition, LoadedSiteView } from './protocols/plugin.js';
export { definePlugin } from './protocols/plugin.js';
export type { SiteConfig, SiteDefinition, StoreSpec, Role, RoleContext, RoleOutput } from './protocols/site.js';
export { defineSite, defineRole } from './protocols/site.js';

// What plugin authors and sites use. Engine internals (preparing hosts, batches, graphs, summaries,
// task decisions, the redactor) are behind '@fettle/core/engine', for the CLI: a 0.x release can change
// them without breaking a plugin.
export { FettleError, isFettleError, formatError, type ErrorCode, type ErrorDetails } from './errors.js';
export { parseOrThrow, describeIssues } from './schema.js';
export { MemoryHostStore, type MemoryInventory } from './memory-host-store.js';
export { Registry } from './registry.js';
export { mapPool } from './pool.js';
export { validateStateDict, diffStateDicts, hashStateDict, publicState, diffLines, displayValue } from './statedict.js';
export { HostSession } from './engine/session.js';
export { connectHost } from './engine/connect.js';
export { runSite, type SiteRunOptions } from './engine/engine.js';
export type { RunMode, ItemStatus, ItemResult, HostStatus, HostResult, Summary, RunResult, EngineEvent } from './engine/results.js';
export { stampPath, taskStamps, writeStamp, type Stamp } from './tasks/index.js';
export { z } from 'zod';
export { writeFileAtomic, localFile, localFileChunks, type AtomicWriteOptions } from './local-files.js';
export { runItems, type RunItemsOptions } from './engine/run-items.js';
