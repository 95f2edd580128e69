import type { RunMode } from '../protocols/run.js';
import type { SiteConfig } from '../protocols/site.js';
import type { ConnectContext } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import type { HostTasks } from '../tasks/coordinator.js';
import type { TaskSiteAccess } from '../tasks/remote.js';
import type { TaskReport } from '../tasks/phase.js';
import { connectHost } from './connect.js';
import { HostSession } from './session.js';
import { differsStatus, type EngineEvent, type ItemResult } from './results.js';

/** Task reports as engine results: tasks appear as `task:ID` rows beside the items. */
export function taskResult(report: TaskReport, mode: RunMode): ItemResult {
  const id = `task:${report.id}`;
  const base = { id, reason: report.because, ms: report.ms };
  switch (report.status) {
    case 'up-to-date':
      return { ...base, status: 'ok' };
    case 'would-run':
      return { ...base, status: differsStatus(mode), diff: [{ key: 'would run', want: report.because }] };
    case 'ran':
      return { ...base, status: 'changed', diff: [{ key: 'ran', want: report.because }] };
    case 'failed':
      return { ...base, status: 'failed', error: report.error ?? report.because };
    default:
      return { ...base, status: 'skipped' };
  }
}

/**
 * The step after the items: run the host's setup tasks (none run in apply when an
 * item failed, or once the run stopped) and report them as `task:ID` rows.
 */
export async function runTasksStep(
  tasks: HostTasks,
  items: readonly ItemResult[],
  step: {
    host: string;
    mode: RunMode;
    emit: (event: EngineEvent) => void;
    stopped?: string | undefined;
    /** Called before the first task that runs (the host lock is taken then); a reason skips the tasks. */
    admit?: (() => Promise<string | undefined>) | undefined;
  },
): Promise<ItemResult[]> {
  const failed = items.find((item) => item.status === 'failed');
  const blocked = step.stopped ?? (failed && step.mode === 'apply' ? `not run: item ${failed.id} failed` : undefined);
  const reports = await tasks.run({
    blocked,
    admit: step.admit,
    onStart: (task) => step.emit({ type: 'item-start', host: step.host, id: `task:${task.task.id}` }),
    onDone: (report) => step.emit({ type: 'item-done', host: step.host, result: taskResult(report, step.mode) }),
  });
  return reports.map((report) => taskResult(report, step.mode));
}

/** The site and the controls needed to reach its hosts. */
export interface SiteAccessOptions {
  readonly site: SiteConfig;
  readonly registry: Registry;
  readonly siteDir: string;
  readonly signal?: AbortSignal | undefined;
  readonly warn?: ((message: string) => void) | undefined;
  readonly prompt?: ConnectContext['prompt'];
  readonly runScope?: ConnectContext['runScope'];
}

/** How the tasks reach hosts outside the run (to read their stamps): through the site's store and transports. */
export function taskSiteAccess(options: SiteAccessOptions): TaskSiteAccess {
  return {
    listHosts: () => options.site.hosts.listHosts(),
    warn: options.warn,
    async open(host) {
      const transport = await connectHost(options.registry, host, {
        siteDir: options.siteDir,
        signal: options.signal,
        warn: (message) => options.warn?.(`${host.name}: ${message}`),
        prompt: options.prompt,
        runScope: options.runScope,
      });
      const session = new HostSession(host, transport, options.siteDir);
      return { context: session.context, close: () => transport.close() };
    },
  };
}
