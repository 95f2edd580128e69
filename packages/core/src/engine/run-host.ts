import type { SiteConfig } from '../protocols/site.js';
import type { ConnectContext, Transport } from '../protocols/transport.js';
import { isUnreachableError } from '../protocols/transport.js';
import type { Redactor } from '../redact.js';
import { formatError } from '../errors.js';
import type { TaskCoordinator } from '../tasks/coordinator.js';
import type { PreparedHost } from './prepare.js';
import { secretResolver } from './item-secrets.js';
import { HostSession } from './session.js';
import { applyItems } from './apply-items.js';
import { checkItems } from './check-items.js';
import { runTasksStep } from './host-tasks.js';
import type { EngineEvent, HostResult, ItemResult, RunMode } from './results.js';
import { HostLock, type LockSettings } from './host-lock.js';

/** What every host's run shares: the mode, the site, the way out (events), the controls (confirm, abort). */
export interface HostRunContext {
  readonly mode: RunMode;
  readonly site: SiteConfig;
  readonly siteDir: string;
  readonly redactor: Redactor;
  readonly tasks: TaskCoordinator;
  readonly emit: (event: EngineEvent) => void;
  readonly confirm?: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly warn?: ((message: string) => void) | undefined;
  readonly prompt?: ConnectContext['prompt'];
  readonly runScope?: ConnectContext['runScope'];
  /** Apply takes each host's hard lock for its duration (`force` overrides a live one, with a warning). */
  readonly lock?: LockSettings | undefined;
  /** Whether differing items get their detail (a content diff); default true. */
  readonly details?: boolean | undefined;
}

type HostOutcome = Omit<HostResult, 'ms' | 'roundTrips' | 'host'>;

/**
 * One host, top to bottom: connect; gather and apply (or check) its items; run
 * its setup tasks; close; report. Whatever happens, the host ends with a result:
 * converged, failed (with the items and why), or unreachable (with when it was lost).
 */
export async function runHost(prepared: PreparedHost, run: HostRunContext): Promise<HostResult> {
  const host = prepared.built.host;
  const started = Date.now();
  const report = (outcome: HostOutcome, session?: HostSession): HostResult => {
    const stats = session?.stats ?? { execs: 0, fileWrites: 0, fileReads: 0 };
    const roundTrips = { execs: stats.execs, fileWrites: stats.fileWrites, fileReads: stats.fileReads };
    const result = run.redactor.scrubValue({ host: host.name, ...outcome, ms: Date.now() - started, roundTrips });
    run.emit({ type: 'host-done', host: host.name, result });
    return result;
  };

  run.emit({ type: 'host-start', host: host.name });
  if (run.signal?.aborted) return report({ status: 'unreachable', items: [], error: 'interrupted before connecting', reason: 'interrupted' });
  const connected = await connect(prepared, run);
  if ('failure' in connected) return report(connected.failure);
  run.emit({ type: 'host-connected', host: host.name, ms: Date.now() - started });

  const connection = connected.transport;
  const session = new HostSession(host, connection, run.siteDir, secretResolver(host, run.site, run.redactor), (message) => run.warn?.(`${host.name}: ${message}`));
  const reported = new Map<string, ItemResult>();
  const emit = (event: EngineEvent): void => {
    if (event.type === 'item-done') reported.set(event.result.id, event.result);
    run.emit(event);
  };
  try {
    return report(await work(prepared, session, { ...run, emit }, started), session);
  } catch (error) {
    const message = formatError(error);
    return report({ status: 'failed', items: notRun(prepared, reported, message, run.emit), error: message }, session);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Open the host's transport; a failure is the host's outcome (unreachable, with the reason). */
async function connect(prepared: PreparedHost, run: HostRunContext): Promise<{ transport: Transport } | { failure: HostOutcome }> {
  const host = prepared.built.host;
  try {
    const transport = await prepared.transport.connect(host, prepared.transportOptions, {
      siteDir: run.siteDir,
      signal: run.signal,
      warn: (message) => run.warn?.(`${host.name}: ${message}`),
      prompt: run.prompt,
      runScope: run.runScope,
    });
    return { transport };
  } catch (error) {
    if (isUnreachableError(error)) return { failure: { status: 'unreachable', items: [], error: error.message, reason: error.reason } };
    return { failure: { status: 'unreachable', items: [], error: `cannot connect: ${formatError(error)}`, reason: 'other' } };
  }
}

/** The items, then the tasks; a host whose connection was lost on the way is reported unreachable, with its results so far. */
async function work(prepared: PreparedHost, session: HostSession, run: HostRunContext, started: number): Promise<HostOutcome> {
  const { built, graph } = prepared;
  const host = built.host;
  const applying = run.mode === 'apply' && !host.readonly;
  const lock = applying && run.lock ? new HostLock(session, run.lock, (message) => run.warn?.(`${host.name}: ${message}`)) : undefined;
  // Asked now, so the lock probe and the stamps travel in the same batch as the items' first gather.
  const admission = lock?.probe();
  const tasks = run.tasks.begin(host.name, session.context);
  const stopped = (): string | undefined => (session.lost ? 'connection lost' : undefined);
  let refused: string | undefined;
  const admit = async (): Promise<string | undefined> => (refused ??= await lock?.take());
  try {
    const items = applying
      ? await applyItems(built, graph, session, {
          emit: run.emit,
          confirm: run.confirm,
          details: run.details,
          signal: run.signal,
          stopped,
          admission,
          admit,
          // Without tasks to follow, the release rides in the last confirm's batch.
          lastBatch: tasks ? undefined : () => void lock?.releaseWith(),
        })
      : await checkItems(built, graph, session, run.emit, run.mode, run.details ?? true);
    refused ??= (await admission)?.refused;
    const halt = refused ?? (run.signal?.aborted ? 'interrupted' : stopped());
    const taskRows = tasks ? await runTasksStep(tasks, items, { host: host.name, mode: run.mode, emit: run.emit, stopped: halt, admit: lock ? admit : undefined }) : [];
    const all = [...items, ...taskRows];
    const lost = session.lost;
    if (lost) {
      const after = ((lost.at - started) / 1000).toFixed(1);
      return { status: 'unreachable', items: all, reason: 'lost', error: `connection lost ${after}s into the run (${new Date(lost.at).toISOString()}): ${lost.error.message}` };
    }
    if (refused !== undefined) return { status: 'failed', items: all, reason: 'locked', error: refused };
    return { status: hostStatus(all), items: all, readonly: host.readonly && run.mode === 'apply' ? true : undefined };
  } finally {
    await lock?.release();
  }
}

function hostStatus(items: readonly ItemResult[]): HostResult['status'] {
  for (const status of ['failed', 'changed', 'drift', 'wouldChange'] as const) if (items.some((item) => item.status === status)) return status;
  return 'ok';
}

/**
 * A host that failed after connecting: the items that reported keep their result,
 * every other one counts as failed (it never ran), in the lines, summary and JSON alike.
 */
function notRun(prepared: PreparedHost, reported: ReadonlyMap<string, ItemResult>, error: string, emit: (event: EngineEvent) => void): ItemResult[] {
  const host = prepared.built.host.name;
  const items = prepared.built.items.map((item) => {
    const known = reported.get(item.id);
    if (known) return known;
    const result: ItemResult = { id: item.id, status: 'failed', error: `not run: the host failed first: ${error.split('\n')[0] ?? error}`, ms: 0 };
    emit({ type: 'item-done', host, result });
    return result;
  });
  const ids = new Set(items.map((item) => item.id));
  // Task rows that reported before the failure.
  return [...items, ...[...reported.values()].filter((result) => !ids.has(result.id))];
}
