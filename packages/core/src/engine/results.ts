import type { DiffLine } from '../protocols/item.js';

import type { RunMode } from '../protocols/run.js';

export type { RunMode };

/**
 * One word per outcome, the same in the text lines, the summary and `--json`:
 * ok: in its desired state. changed: fixed (apply). wouldChange: differs, and
 * apply would fix it (plan, or apply on a readonly host). ifTriggered: a
 * triggered item whose trigger would change, so apply would run it (plan).
 * drift: differs from its desired state (verify). failed: an error, or never run
 * because its host failed first. skipped: not attempted (a dependency failed,
 * `skip`, not triggered, declined).
 */
export type ItemStatus = 'ok' | 'changed' | 'wouldChange' | 'ifTriggered' | 'drift' | 'failed' | 'skipped';

export const ITEM_STATUSES: readonly ItemStatus[] = ['ok', 'changed', 'wouldChange', 'ifTriggered', 'drift', 'failed', 'skipped'];

/** The status of an item that differs from its desired state, in a run that does not fix it. */
export const differsStatus = (mode: RunMode): ItemStatus => (mode === 'verify' ? 'drift' : 'wouldChange');

/** Keep `packages/cli/schemas/run.schema.json` in step: its tests validate real runs against it. */
export interface ItemResult {
  readonly id: string;
  readonly status: ItemStatus;
  /** What differs (private keys never appear; secrets redacted). */
  readonly diff?: readonly DiffLine[] | undefined;
  /** Extra text, such as a unified diff of a file's content. */
  readonly detail?: string | undefined;
  /** created / changed / deleted, for changed items. */
  readonly action?: 'create' | 'change' | 'delete' | undefined;
  readonly error?: string | undefined;
  /** Why it was skipped. */
  readonly reason?: string | undefined;
  /** When apply started fixing it (epoch ms, controller clock); absent for items it did not try to fix. */
  readonly startedAt?: number | undefined;
  readonly ms: number;
}

/** A host's worst item status (failed, then changed, drift, wouldChange), or unreachable. */
export type HostStatus = 'ok' | 'changed' | 'wouldChange' | 'drift' | 'failed' | 'unreachable';

export interface HostResult {
  readonly host: string;
  readonly status: HostStatus;
  readonly items: readonly ItemResult[];
  readonly error?: string | undefined;
  /** Why an unreachable host could not be reached: refused, timeout, host-key, auth, dns, lost, other. */
  readonly reason?: string | undefined;
  /** The host is readonly: nothing was changed. */
  readonly readonly?: boolean | undefined;
  readonly ms: number;
  /** Remote commands sent and files moved, to make round trips visible. */
  readonly roundTrips: { readonly execs: number; readonly fileWrites: number; readonly fileReads: number };
}

export interface Summary {
  changed: number;
  wouldChange: number;
  ifTriggered: number;
  drift: number;
  ok: number;
  failed: number;
  skipped: number;
  unreachable: number;
  hosts: number;
}

export interface RunResult {
  readonly mode: RunMode;
  readonly summary: Summary;
  readonly hosts: readonly HostResult[];
  readonly ms: number;
}

/** Progress events: every state change of a run. */
export type EngineEvent =
  | { readonly type: 'host-start'; readonly host: string }
  | { readonly type: 'host-connected'; readonly host: string; readonly ms: number }
  | { readonly type: 'host-phase'; readonly host: string; readonly phase: 'gather' | 'fix' | 'confirm' }
  | { readonly type: 'item-start'; readonly host: string; readonly id: string }
  | { readonly type: 'item-done'; readonly host: string; readonly result: ItemResult }
  | { readonly type: 'host-done'; readonly host: string; readonly result: HostResult };

export function summarize(hosts: readonly HostResult[]): Summary {
  const summary: Summary = { changed: 0, wouldChange: 0, ifTriggered: 0, drift: 0, ok: 0, failed: 0, skipped: 0, unreachable: 0, hosts: hosts.length };
  for (const host of hosts) {
    if (host.status === 'unreachable') summary.unreachable++;
    // Indexed: run once per run, but over every item of every host, and an iterator step each is garbage.
    const items = host.items;
    for (let index = 0; index < items.length; index++) summary[(items[index] as ItemResult).status]++;
  }
  return summary;
}
