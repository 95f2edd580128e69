import { createHash } from 'node:crypto';
import type { Change, DiffLine } from '../protocols/item.js';
import { diffLines } from '../statedict.js';

/** Keys that describe a file's metadata, never its content. */
const METADATA_KEYS = new Set(['type', 'mode', 'owner', 'group', 'exists']);

/**
 * The diff of an item carrying a secret. What it wants is shown as usual (the run's
 * redactor then names the secret in it); what the host has now is shown only when
 * the type displays it as something else than its raw text (a truncated hash, `done`)
 * or it is metadata, and as a hash otherwise: after a rotation, it is the old secret.
 */
export function secretSafeDiff(change: Change, shown: (key: string, value: unknown) => string): DiffLine[] {
  return diffLines(change, shown).map((line) => {
    const raw = change.sdict?.[line.key];
    if (line.have === undefined || METADATA_KEYS.has(line.key) || typeof raw !== 'string' || line.have !== raw) return line;
    return { ...line, have: `hash:${createHash('sha256').update(raw).digest('hex').slice(0, 12)}…` };
  });
}

/** The detail line shown instead of a content diff for an item carrying a secret. */
export function secretDetail(change: Change): string | undefined {
  if (change.cdict === null) return undefined;
  const contentChanged = change.sdict === null || change.keys.some((key) => !METADATA_KEYS.has(key));
  return contentChanged ? 'content: <secret content changed>' : undefined;
}
