/** Setup tasks (Carthage): ordering, stamps, decisions, the run-time coordinator and inspection. */
export { STAMP_DIR, stampPath, parseStamp, taskStamps, stampWriteCommand, writeStamp, type Stamp } from './stamps.js';
export { orderTasks, parseTaskRef, type DeclaredTask, type OrderedTask, type TaskRef } from './order.js';
export { decideTask, describeTaskReason, formatTime, type TaskReason, type TaskDecision, type DependencyState } from './decide.js';
export { runTaskPhase, askStamps, type TaskReport, type TaskStatus, type TaskPhaseOptions } from './phase.js';
export { TaskCoordinator, taskResult, type TaskRunOptions } from './coordinator.js';
export { inspectTasks, type InspectTasksOptions, type HostTasksReport } from './inspect.js';
