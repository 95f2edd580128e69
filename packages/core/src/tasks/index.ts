/** Setup tasks (Carthage): ordering, stamps, decisions and the run-time coordinator. The engine runs them; they never import the engine. */
export { STAMP_DIR, stampPath, parseStamp, taskStamps, stampWriteCommand, writeStamp, type Stamp } from './stamps.js';
export { orderTasks, parseTaskRef, type DeclaredTask, type OrderedTask, type TaskRef } from './order.js';
export { decideTask, describeTaskReason, formatTime, type TaskReason, type TaskDecision, type DependencyState } from './decide.js';
export { runTaskPhase, askStamps, type TaskReport, type TaskStatus, type TaskPhaseOptions } from './phase.js';
export { TaskCoordinator, type TaskRunOptions, type TaskHost, type HostTasks } from './coordinator.js';
export { RemoteStamps, type TaskSiteAccess, type OpenedHost } from './remote.js';
