import type { Host } from '../protocols/host.js';
import type { SiteConfig } from '../protocols/site.js';
import type { ConnectContext, Transport } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import { FettleError, formatError } from '../errors.js';
import { connectHost } from '../engine/connect.js';
import { HostSession } from '../engine/session.js';
import { stampPath, taskStamps, type Stamp } from './stamps.js';

export interface TaskSiteOptions {
  readonly site: SiteConfig;
  readonly registry: Registry;
  readonly siteDir: string;
  readonly signal?: AbortSignal | undefined;
  readonly warn?: ((message: string) => void) | undefined;
  readonly prompt?: ConnectContext['prompt'];
}

/** Connect to a host through the transport it names, options checked by its schema. */
export function connectForTasks(options: TaskSiteOptions, host: Host): Promise<Transport> {
  return connectHost(options.registry, host, {
    siteDir: options.siteDir,
    signal: options.signal,
    warn: (message) => options.warn?.(`${host.name}: ${message}`),
    prompt: options.prompt,
  });
}

interface Remote {
  readonly session: Promise<HostSession>;
  readonly stamps: Map<string, Promise<Stamp | null>>;
}

/**
 * Reads the stamps of hosts this host's tasks depend on but that are not being
 * worked on (yet) in this run: one connection per such host, its asks coalesced
 * into one command, kept until `close()`. The stamp on the host is the truth; a
 * controller-side mirror would go stale when nodes converge themselves (pull mode).
 */
export class RemoteStamps {
  readonly #options: TaskSiteOptions;
  readonly #remotes = new Map<string, Remote>();
  #hosts: Promise<readonly Host[]> | undefined;

  constructor(options: TaskSiteOptions) {
    this.#options = options;
  }

  /** All hosts of the site (for dependencies on hosts outside the selection). */
  listHosts(): Promise<readonly Host[]> {
    return (this.#hosts ??= this.#options.site.hosts.listHosts());
  }

  /** A stamp of another host; rejects when that host cannot be reached. */
  stamp(hostName: string, task: string): Promise<Stamp | null> {
    let remote = this.#remotes.get(hostName);
    if (!remote) {
      remote = { session: this.#connect(hostName), stamps: new Map() };
      this.#remotes.set(hostName, remote);
    }
    let stamp = remote.stamps.get(task);
    if (!stamp) {
      // Asks made while the connection opens resume in the same tick: one command.
      stamp = remote.session.then((session) => session.context.fact(taskStamps, stampPath(hostName, task)));
      remote.stamps.set(task, stamp);
    }
    return stamp;
  }

  async #connect(hostName: string): Promise<HostSession> {
    const host = (await this.listHosts()).find((candidate) => candidate.name === hostName);
    if (!host) throw new FettleError('E_SITE', `no host named '${hostName}'`, { where: 'task dependency' });
    try {
      return new HostSession(host, await connectForTasks(this.#options, host), this.#options.siteDir);
    } catch (error) {
      throw new FettleError('E_TRANSPORT', `cannot read stamps of ${hostName}: ${formatError(error)}`, { where: `host ${hostName}`, cause: error });
    }
  }

  async close(): Promise<void> {
    const sessions = [...this.#remotes.values()].map((remote) => remote.session);
    this.#remotes.clear();
    await Promise.all(sessions.map((session) => session.then((s) => s.transport.close()).catch(() => undefined)));
  }
}
