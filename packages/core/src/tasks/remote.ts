import type { Host } from '../protocols/host.js';
import type { ItemContext } from '../protocols/item.js';
import { FettleError, formatError } from '../errors.js';
import { stampPath, taskStamps, type Stamp } from './stamps.js';

/** A connection to another host, as the tasks need it: its item context (facts batch) and a way to close it. */
export interface OpenedHost {
  readonly context: ItemContext;
  close(): Promise<void>;
}

/** What the tasks need from the run around them; the engine provides it (tasks never import the engine). */
export interface TaskSiteAccess {
  /** Every host of the site (for dependencies on hosts outside the selection). */
  listHosts(): Promise<readonly Host[]>;
  /** Connect to another host to read its stamps. */
  open(host: Host): Promise<OpenedHost>;
  readonly warn?: ((message: string) => void) | undefined;
}

interface Remote {
  readonly opened: Promise<OpenedHost>;
  readonly stamps: Map<string, Promise<Stamp | null>>;
}

/**
 * Reads the stamps of hosts this host's tasks depend on but that are not being
 * worked on (yet) in this run: one connection per such host, its asks coalesced
 * into one command, kept until `close()`. The stamp on the host is the truth; a
 * controller-side mirror would go stale when nodes converge themselves (pull mode).
 */
export class RemoteStamps {
  readonly #access: TaskSiteAccess;
  readonly #remotes = new Map<string, Remote>();
  #hosts: Promise<readonly Host[]> | undefined;

  constructor(access: TaskSiteAccess) {
    this.#access = access;
  }

  /** All hosts of the site (for dependencies on hosts outside the selection). */
  listHosts(): Promise<readonly Host[]> {
    return (this.#hosts ??= this.#access.listHosts());
  }

  /** A stamp of another host; rejects when that host cannot be reached. */
  stamp(hostName: string, task: string): Promise<Stamp | null> {
    let remote = this.#remotes.get(hostName);
    if (!remote) {
      remote = { opened: this.#connect(hostName), stamps: new Map() };
      this.#remotes.set(hostName, remote);
    }
    let stamp = remote.stamps.get(task);
    if (!stamp) {
      // Asks made while the connection opens resume in the same tick: one command.
      stamp = remote.opened.then((opened) => opened.context.fact(taskStamps, stampPath(hostName, task)));
      remote.stamps.set(task, stamp);
    }
    return stamp;
  }

  async #connect(hostName: string): Promise<OpenedHost> {
    const host = (await this.listHosts()).find((candidate) => candidate.name === hostName);
    if (!host) throw new FettleError('E_SITE', `no host named '${hostName}'`, { where: 'task dependency' });
    try {
      return await this.#access.open(host);
    } catch (error) {
      throw new FettleError('E_TRANSPORT', `cannot read stamps of ${hostName}: ${formatError(error)}`, { where: `host ${hostName}`, cause: error });
    }
  }

  async close(): Promise<void> {
    const opened = [...this.#remotes.values()].map((remote) => remote.opened);
    this.#remotes.clear();
    await Promise.all(opened.map((entry) => entry.then((o) => o.close()).catch(() => undefined)));
  }
}
