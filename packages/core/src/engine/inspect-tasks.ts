import type { Host } from '../protocols/host.js';
import { Redactor } from '../redact.js';
import { formatError } from '../errors.js';
import { orderTasks } from '../tasks/order.js';
import { askStamps, runTaskPhase, type TaskReport } from '../tasks/phase.js';
import { RemoteStamps } from '../tasks/remote.js';
import { buildHostItems } from './items.js';
import { HostSession } from './session.js';
import { connectHost } from './connect.js';
import { taskSiteAccess, type SiteAccessOptions } from './host-tasks.js';

export interface InspectTasksOptions extends SiteAccessOptions {
  readonly host: Host;
  /** Shared with the caller's output, so secrets met while building are scrubbed there too. */
  readonly redactor?: Redactor | undefined;
}

export interface HostTasksReport {
  readonly host: string;
  readonly readonly: boolean;
  readonly tasks: readonly TaskReport[];
  /** Remote commands this cost on the host (one: every stamp in one batch). */
  readonly execs: number;
}

/**
 * For `fettle tasks HOST` (Carthage's inspect_setup_tasks): connect, read the
 * host's stamps in one command, compute hashes, read the stamps of hosts its
 * tasks depend on, and say for each task whether it would run and why. Changes nothing.
 */
export async function inspectTasks(options: InspectTasksOptions): Promise<HostTasksReport> {
  const { host } = options;
  const built = await buildHostItems(host, options.site, options.registry, options.redactor ?? new Redactor());
  const tasks = orderTasks(built.tasks, host.name);
  if (tasks.length === 0) return { host: host.name, readonly: host.readonly, tasks: [], execs: 0 };
  const transport = await connectHost(options.registry, host, {
    siteDir: options.siteDir,
    signal: options.signal,
    warn: (message) => options.warn?.(`${host.name}: ${message}`),
    prompt: options.prompt,
  });
  const session = new HostSession(host, transport, options.siteDir);
  const remote = new RemoteStamps(taskSiteAccess(options));
  try {
    const reports = await runTaskPhase({
      mode: 'plan',
      context: session.context,
      tasks,
      stamps: askStamps(session.context, tasks),
      signal: options.signal,
      remote: async (ref) => {
        const id = `${ref.host}/${ref.task}`;
        try {
          const stamp = await remote.stamp(ref.host, ref.task);
          return { id, ranAt: stamp?.ran ?? null };
        } catch (error) {
          options.warn?.(`cannot check dependency ${id}: ${formatError(error)}`);
          return { id, ranAt: null };
        }
      },
    });
    return { host: host.name, readonly: host.readonly, tasks: reports, execs: session.stats.execs };
  } finally {
    await Promise.all([transport.close().catch(() => undefined), remote.close()]);
  }
}
