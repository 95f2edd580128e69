// '@fettle/core/engine': the engine as the CLI drives it. Not a promise to plugin authors: these
// names may change in any 0.x release; plugins use '@fettle/core'.
export * from './index.js';
export { selectHosts } from './selector.js';
export { Redactor } from './redact.js';
export { buildBatchScript, parseBatchOutput, type BatchOp } from './engine/batch.js';
export { type SessionStats } from './engine/session.js';
export { buildHostItems, type BuiltHost, type BuiltItem, type PrepareOptions } from './engine/items.js';
export { secretResolver } from './engine/item-secrets.js';
export { buildGraph, type ItemGraph } from './engine/graph.js';
export { resolveTransport } from './engine/connect.js';
export { prepareHosts, type PreparedHost } from './engine/engine.js';
export { summarize, ITEM_STATUSES, differsStatus } from './engine/results.js';
export {
  STAMP_DIR,
  orderTasks,
  decideTask,
  describeTaskReason,
  type OrderedTask,
  type TaskRef,
  type TaskReason,
  type TaskDecision,
  type DependencyState,
  type TaskReport,
  type TaskStatus,
} from './tasks/index.js';
export { inspectTasks, type InspectTasksOptions, type HostTasksReport } from './engine/inspect-tasks.js';
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
