import type { Host } from '../protocols/host.js';
import type { SiteConfig } from '../protocols/site.js';
import type { ConnectContext } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import { Redactor } from '../redact.js';
import { mapPool } from '../pool.js';
import { TaskCoordinator } from '../tasks/coordinator.js';
import { prepareHosts } from './prepare.js';
import type { PrepareOptions } from './items.js';
import { runHost } from './run-host.js';
import { taskSiteAccess } from './host-tasks.js';
import { newHolder } from './lock.js';
import { summarize, type EngineEvent, type HostResult, type ItemResult, type RunMode, type RunResult } from './results.js';

export { prepareHosts, type PreparedHost } from './prepare.js';

export interface SiteRunOptions {
  readonly site: SiteConfig;
  readonly siteDir: string;
  readonly registry: Registry;
  readonly hosts: readonly Host[];
  readonly mode: RunMode;
  /** Hosts worked on at once (default: the site's, else 32). */
  readonly concurrency?: number | undefined;
  readonly emit?: ((event: EngineEvent) => void) | undefined;
  readonly confirm?: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
  /** Shared so that callers can scrub their own output with the same secrets. */
  readonly redactor?: Redactor | undefined;
  /** Aborting stops every host from starting a new wave or item; what was not done is reported skipped. */
  readonly signal?: AbortSignal | undefined;
  readonly warn?: ((message: string) => void) | undefined;
  readonly prompt?: ConnectContext['prompt'];
  /** Source places of roles, for messages (the CLI maps them through the compiled config's source map). */
  readonly locateRole?: PrepareOptions['locateRole'];
  /** Apply takes a hard lock on each host (default true); `force` takes over someone else's, with a warning. */
  readonly lock?: { readonly enabled?: boolean | undefined; readonly force?: boolean | undefined; readonly comment?: string | undefined } | undefined;
  /**
   * Compute each differing item's detail, such as a unified diff of a file's content
   * (default true). False when no output will show it (a text apply without -v or -i):
   * a cold apply of N files then builds no diff text.
   */
  readonly details?: boolean | undefined;
}

/**
 * Plan, verify or apply a site on the given hosts: validate everything first
 * (bad input touches no host), order hosts for cross-host task dependencies,
 * then run each host in a bounded pool. Every host appears in the result.
 */
export async function runSite(options: SiteRunOptions): Promise<RunResult> {
  const started = Date.now();
  const redactor = options.redactor ?? new Redactor();
  const runScope = {};
  const tasks = new TaskCoordinator({ ...taskSiteAccess({ ...options, runScope }), mode: options.mode, signal: options.signal });
  const prepared = await prepareHosts(options.site, options.registry, options.hosts, redactor, { siteDir: options.siteDir, locateRole: options.locateRole });
  const ordered = await tasks.orderHosts(prepared, ({ built }) => ({ name: built.host.name, tasks: built.tasks }));
  const context = {
    ...options,
    redactor,
    runScope,
    tasks,
    emit: (event: EngineEvent): void => options.emit?.(redactor.scrubValue(event)),
    lock: options.lock?.enabled === false ? undefined : { holder: newHolder(options.lock?.comment), force: options.lock?.force ?? false },
  };
  const limit = options.concurrency ?? options.site.concurrency ?? 32;
  const results = await mapPool(ordered, limit, async (host): Promise<HostResult> => {
    try {
      return await runHost(host, context);
    } finally {
      await tasks.finished(host.built.host.name);
    }
  });
  return { mode: options.mode, summary: summarize(results), hosts: results, ms: Date.now() - started };
}
