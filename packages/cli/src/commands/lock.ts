import { randomBytes } from 'node:crypto';
import { HostSession, connectHost, describeHolder, formatError, isUnreachableError, lockIdentity, lockShowCommand, mapPool, parseDuration, parseLockShow, softLockAddCommand, softLockRemoveCommand, type Host, type LockHolder, type SoftLock } from '@fettle/core/engine';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';

export interface LockAddOptions {
  readonly items: string[];
  readonly expiresIn: string;
  readonly comment: string;
}

interface HostOutcome<T> {
  readonly host: string;
  readonly ok: boolean;
  readonly unreachable?: boolean;
  readonly error?: string;
  readonly value?: T;
}

/** Run one command on every selected host, one connection each, in a bounded pool; every host reports. */
async function onHosts<T>(site: LoadedSite, selector: string | undefined, out: Output, work: (session: HostSession) => Promise<T>): Promise<HostOutcome<T>[]> {
  const hosts = await site.select(selector);
  return mapPool(hosts, 32, async (host: Host): Promise<HostOutcome<T>> => {
    let session: HostSession | undefined;
    try {
      const transport = await connectHost(site.registry, host, { siteDir: site.dir, warn: (message) => out.error(`warning: ${host.name}: ${message}`) });
      session = new HostSession(host, transport, site.dir);
      return { host: host.name, ok: true, value: await work(session) };
    } catch (error) {
      return { host: host.name, ok: false, unreachable: isUnreachableError(error), error: formatError(error) };
    } finally {
      await session?.transport.close().catch(() => undefined);
    }
  });
}

function exitOf(results: readonly HostOutcome<unknown>[]): number {
  if (results.some((result) => result.unreachable)) return EXIT.unreachable;
  return results.every((result) => result.ok) ? EXIT.ok : EXIT.failed;
}

/** `fettle lock add [selector]`: a soft lock on each host; other users' applies leave the matching items alone. */
export async function lockAdd(site: LoadedSite, out: Output, selector: string | undefined, options: LockAddOptions): Promise<number> {
  const started = Date.now();
  const lock: SoftLock = {
    id: randomBytes(4).toString('hex'),
    user: lockIdentity(),
    started,
    pid: process.pid,
    comment: options.comment,
    expires: started + parseDuration(options.expiresIn),
    items: options.items.length > 0 ? options.items : ['*'],
  };
  const results = await onHosts(site, selector, out, async (session) => {
    await session.context.runChecked(softLockAddCommand(session.context, lock));
  });
  if (out.json) out.document({ lock, hosts: results.map(({ value: _value, ...rest }) => rest) });
  else {
    for (const result of results) out.line(result.ok ? `${result.host}: locked ${lock.items.join(', ')} (lock ${lock.id})` : `${result.host}: ${result.error ?? 'failed'}`);
    out.line(`lock ${lock.id}: ${describeHolder(lock)}`);
  }
  return exitOf(results);
}

/** `fettle lock remove [selector] ID`. */
export async function lockRemove(site: LoadedSite, out: Output, selector: string | undefined, id: string): Promise<number> {
  const results = await onHosts(site, selector, out, async (session) => (await session.context.runChecked(softLockRemoveCommand(session.context, id))).stdout.includes('removed'));
  if (out.json) out.document({ id, hosts: results.map((result) => ({ host: result.host, ok: result.ok, removed: result.value ?? false, error: result.error })) });
  else for (const result of results) out.line(result.ok ? `${result.host}: ${result.value ? `removed lock ${id}` : `no lock ${id}`}` : `${result.host}: ${result.error ?? 'failed'}`);
  return exitOf(results);
}

/** `fettle lock show [selector]`: the hard lock (an apply in progress) and soft locks of each host. */
export async function lockShow(site: LoadedSite, out: Output, selector: string | undefined): Promise<number> {
  const results = await onHosts(site, selector, out, async (session) => parseLockShow((await session.context.runChecked(lockShowCommand(session.context))).stdout));
  if (out.json) {
    out.document({ hosts: results.map((result) => ({ host: result.host, ok: result.ok, error: result.error, hard: result.value?.hard ?? null, soft: result.value?.soft ?? [] })) });
    return exitOf(results);
  }
  const now = Date.now();
  const state = (lock: LockHolder): string => (lock.expires < now ? ' [expired]' : '');
  for (const result of results) {
    if (!result.ok || !result.value) {
      out.line(`${result.host}: ${result.error ?? 'failed'}`);
      continue;
    }
    const { hard, soft } = result.value;
    if (!hard && soft.length === 0) out.line(`${result.host}: no locks`);
    if (hard) out.line(`${result.host}: applying: ${describeHolder(hard)}${state(hard)}`);
    for (const lock of soft) out.line(`${result.host}: lock ${lock.id} on ${lock.items.join(', ')}: ${describeHolder(lock)}${state(lock)}`);
  }
  return exitOf(results);
}
