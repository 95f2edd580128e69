import type { EngineEvent, HostResult, RunResult } from '@fettle/core';

/** One line of `apply --events` output: an engine event, or the run's end, or nothing fettle wrote. */
export type EventLine = { readonly kind: 'event'; readonly event: EngineEvent } | { readonly kind: 'done'; readonly run: RunResult } | undefined;

/** Parse one line a site bundle printed with `--events`. */
export function parseEventLine(line: string): EventLine {
  if (!line.startsWith('{')) return undefined;
  let value: { type?: string; run?: RunResult };
  try {
    value = JSON.parse(line) as typeof value;
  } catch {
    return undefined;
  }
  if (value.type === 'run-done' && value.run) return { kind: 'done', run: value.run };
  return typeof value.type === 'string' ? { kind: 'event', event: value as EngineEvent } : undefined;
}

/** Events a node's run reports about its items (the caller reports the host's own start, connection and end). */
export function isItemEvent(event: EngineEvent): boolean {
  return event.type !== 'host-start' && event.type !== 'host-connected' && event.type !== 'host-done';
}

/** A finished `--events` output: its item events and the one host's result. */
export function parseRunOutput(stdout: string): { events: EngineEvent[]; host?: HostResult | undefined } {
  const events: EngineEvent[] = [];
  let host: HostResult | undefined;
  for (const line of stdout.split('\n')) {
    const parsed = parseEventLine(line);
    if (parsed?.kind === 'done') host = parsed.run.hosts[0];
    else if (parsed?.kind === 'event' && isItemEvent(parsed.event)) events.push(parsed.event);
  }
  return { events, host };
}

/** The message of a failed node run: the first line naming an error, not the stack. */
export function failureLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines.find((line) => /^(\w*Error|fettle:)/.test(line)) ?? (lines.slice(-3).join('\n') || '(no output)');
}
