export type { Host, HostStore, ExplainedVar, VarOrigin } from './protocols/host.js';
export type { SecretStore, SecretReaders, SecretRef } from './protocols/secrets.js';
export { secret, isSecretRef } from './protocols/secrets.js';
export type {
  Transport,
  TransportDefinition,
  ExecResult,
  ExecOptions,
  FileOwnership,
  RemoteStat,
  ConnectContext,
  TransportHop,
  TransportDescription,
} from './protocols/transport.js';
export { defineTransport, UnreachableError, isUnreachableError } from './protocols/transport.js';
export type { Fact, FactEnv, FactPerQuery, QueryOutput } from './protocols/fact.js';
export { defineFact, defineFactPerQuery, shellQuote } from './protocols/fact.js';
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
export type { SiteConfig, Role, RoleContext, RoleOutput } from './protocols/site.js';
export { defineSite, defineRole } from './protocols/site.js';

export { FettleError, isFettleError, formatError, type ErrorCode, type ErrorDetails } from './errors.js';
export { parseOrThrow, describeIssues } from './schema.js';
export { MemoryHostStore, type MemoryInventory } from './memory-host-store.js';
export { Registry } from './registry.js';
export { selectHosts } from './selector.js';
export { Redactor } from './redact.js';
export { mapPool } from './pool.js';
export { validateStateDict, diffStateDicts, hashStateDict, publicState, diffLines, displayValue } from './statedict.js';
export { buildBatchScript, parseBatchOutput, type BatchOp } from './engine/batch.js';
export { HostSession, type SessionStats } from './engine/session.js';
export { buildHostItems, secretResolver, type BuiltHost, type BuiltItem, type PrepareOptions } from './engine/items.js';
export { buildGraph, type ItemGraph } from './engine/graph.js';
export { resolveTransport, connectHost } from './engine/connect.js';
export { runSite, prepareHosts, type SiteRunOptions, type PreparedHost } from './engine/engine.js';
export type { RunMode, ItemStatus, ItemResult, HostStatus, HostResult, Summary, RunResult, EngineEvent } from './engine/results.js';
export { summarize, ITEM_STATUSES, differsStatus } from './engine/results.js';
export {
  STAMP_DIR,
  stampPath,
  taskStamps,
  writeStamp,
  orderTasks,
  decideTask,
  describeTaskReason,
  type Stamp,
  type OrderedTask,
  type TaskRef,
  type TaskReason,
  type TaskDecision,
  type DependencyState,
  type TaskReport,
  type TaskStatus,
} from './tasks/index.js';
export { z } from 'zod';
export { writeFileAtomic, type AtomicWriteOptions } from './local-files.js';
export { runItems, type RunItemsOptions } from './engine/run-items.js';
export {
  STATE_DIR,
  lockIdentity,
  describeHolder,
  parseDuration,
  lockCovers,
  softLockAddCommand,
  softLockRemoveCommand,
  lockShowCommand,
  parseLockShow,
  type LockHolder,
  type SoftLock,
} from './engine/lock.js';
export { inspectTasks, type InspectTasksOptions, type HostTasksReport } from './engine/inspect-tasks.js';
