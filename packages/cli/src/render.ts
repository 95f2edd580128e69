import pc from 'picocolors';
import type { EngineEvent, HostResult, ItemResult, ItemStatus, RunResult } from '@fettle/core';

const SYMBOL: Record<ItemStatus, string> = { ok: '✓', changed: '~', wouldChange: '~', ifTriggered: '?', drift: '≠', failed: '✗', skipped: '-' };

/** The word for each status in the lines, the table and the summary: one truth with `--json`. */
export const STATUS_WORD: Record<ItemStatus, string> = {
  ok: 'ok',
  changed: 'changed',
  wouldChange: 'would change',
  ifTriggered: 'runs if triggered',
  drift: 'drift',
  failed: 'failed',
  skipped: 'skipped',
};

const DIFFERS: ReadonlySet<ItemStatus> = new Set(['changed', 'wouldChange', 'drift']);

/** Full sha256 values are in `--json`; on screen 16 hex digits say enough. */
const shortHashes = (text: string): string => (text.length < 64 ? text : text.replace(/\b([0-9a-f]{16})[0-9a-f]{48}\b/g, '$1…'));

function statusWord(result: ItemResult): string {
  const verb = result.action === 'create' ? 'create' : result.action === 'delete' ? 'delete' : 'change';
  switch (result.status) {
    case 'changed':
      return `${verb}d`;
    case 'wouldChange':
      return `would ${verb}`;
    case 'ifTriggered':
      return result.reason ?? 'runs if triggered';
    case 'drift':
      return result.action === 'create' ? 'drift: missing' : result.action === 'delete' ? 'drift: should not exist' : 'drift';
    case 'failed':
      return `failed: ${result.error ?? ''}`;
    case 'skipped':
      return `skipped: ${result.reason ?? ''}`;
    default:
      return 'ok';
  }
}

function colour(result: ItemResult, text: string): string {
  if (DIFFERS.has(result.status) || result.status === 'ifTriggered') return pc.yellow(text);
  if (result.status === 'failed') return pc.red(text);
  if (result.status === 'skipped') return pc.dim(text);
  return pc.green(text);
}

/** The lines that describe one item result: a status line, its diff, its detail. */
export function itemLines(host: string, result: ItemResult): string[] {
  const lines = [`${pc.bold(host)}  ${colour(result, `${SYMBOL[result.status]} ${result.id}`)}  ${statusWord(result)}`];
  if (DIFFERS.has(result.status) || (result.status === 'failed' && result.diff)) {
    for (const line of result.diff ?? []) {
      const have = line.have === undefined ? undefined : shortHashes(line.have);
      const want = line.want === undefined ? undefined : shortHashes(line.want);
      if (have === undefined) lines.push(`    ${pc.dim(line.key)}  ${want ?? ''}`);
      else if (want === undefined) lines.push(`    ${pc.dim(line.key)}  ${have}`);
      else lines.push(`    ${pc.dim(line.key)}  ${pc.red(have)} → ${pc.green(want)}`);
    }
    if (result.detail) {
      for (const detailLine of result.detail.split('\n')) {
        const styled = detailLine.startsWith('+') ? pc.green(detailLine) : detailLine.startsWith('-') ? pc.red(detailLine) : detailLine.startsWith('@@') ? pc.cyan(detailLine) : detailLine;
        lines.push(`      ${styled}`);
      }
    }
  }
  return lines;
}

const emptyCounts = (): Record<ItemStatus, number> => ({ ok: 0, changed: 0, wouldChange: 0, ifTriggered: 0, drift: 0, failed: 0, skipped: 0 });

export function hostCounts(result: HostResult): Record<ItemStatus, number> {
  const counts = emptyCounts();
  for (const item of result.items) counts[item.status]++;
  return counts;
}

/** The statuses a mode reports, in table order (apply shows "would change" only when a readonly host had some). */
function columns(run: RunResult): ItemStatus[] {
  if (run.mode === 'verify') return ['drift', 'ok', 'failed', 'skipped'];
  if (run.mode === 'plan') return ['wouldChange', 'ifTriggered', 'ok', 'failed', 'skipped'];
  return run.summary.wouldChange > 0 ? ['changed', 'wouldChange', 'ok', 'failed', 'skipped'] : ['changed', 'ok', 'failed', 'skipped'];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** The closing table and summary line: the same counts as the item lines and `--json`. */
export function summaryLines(run: RunResult): string[] {
  const shown = columns(run);
  const width = Math.max(4, ...run.hosts.map((h) => h.host.length));
  const widths = shown.map((status) => Math.max(5, STATUS_WORD[status].length));
  const lines = [pc.dim(`${'host'.padEnd(width)}  ${shown.map((status, index) => STATUS_WORD[status].padStart(widths[index] ?? 5)).join('  ')}  time`)];
  for (const host of run.hosts) {
    const counts = hostCounts(host);
    if (host.status === 'unreachable' && host.items.length === 0) {
      lines.push(`${host.host.padEnd(width)}  ${pc.red(`unreachable: ${host.error ?? ''}`)}`);
      continue;
    }
    const row = `${host.host.padEnd(width)}  ${shown.map((status, index) => String(counts[status]).padStart(widths[index] ?? 5)).join('  ')}  ${seconds(host.ms)}`;
    const note = host.status === 'unreachable' ? pc.red(`unreachable: ${host.error ?? ''}`) : host.error ? pc.red(host.error) : host.readonly ? pc.dim('readonly: nothing changed') : '';
    lines.push(note ? `${row}  ${note}` : row);
  }
  const s = run.summary;
  const counts = shown.map((status) => `${s[status]} ${STATUS_WORD[status]}`).join(', ');
  lines.push(`${pc.bold('summary')}: ${counts}, ${s.unreachable} unreachable (${s.hosts} host${s.hosts === 1 ? '' : 's'}, ${seconds(run.ms)})`);
  return lines;
}

/**
 * Progress: on a TTY a live line per host redrawn in place, with changes and
 * failures printed above it; otherwise plain lines as things happen.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #live: boolean;
  readonly #mode: RunResult['mode'];
  readonly #verbose: boolean;
  readonly #hosts = new Map<string, { state: string; counts: Record<ItemStatus, number> }>();
  #drawn = 0;

  constructor(stream: NodeJS.WriteStream, mode: RunResult['mode'], verbose: boolean) {
    this.#stream = stream;
    this.#live = Boolean(stream.isTTY) && process.env['TERM'] !== 'dumb';
    this.#mode = mode;
    this.#verbose = verbose;
  }

  print(lines: string[]): void {
    this.#clear();
    // One write per item, not per line: a cold apply prints thousands of lines.
    if (lines.length > 0) this.#stream.write(`${lines.join('\n')}\n`);
    this.#draw();
  }

  onEvent(event: EngineEvent): void {
    const entry = this.#hosts.get(event.host) ?? { state: 'waiting', counts: emptyCounts() };
    this.#hosts.set(event.host, entry);
    switch (event.type) {
      case 'host-start':
        entry.state = 'connecting';
        break;
      case 'host-connected':
        entry.state = 'gathering';
        break;
      case 'host-phase':
        entry.state = event.phase === 'fix' ? 'fixing' : event.phase === 'confirm' ? 'confirming' : 'gathering';
        break;
      case 'item-done':
        entry.counts[event.result.status]++;
        if (event.result.status !== 'ok' || this.#verbose) this.print(itemLines(event.host, event.result));
        break;
      case 'host-done':
        entry.state = event.result.status;
        if (event.result.status === 'unreachable') this.print([`${pc.bold(event.host)}  ${pc.red(`unreachable: ${event.result.error ?? ''}`)}`]);
        else if (event.result.error) this.print([`${pc.bold(event.host)}  ${pc.red(`failed: ${event.result.error}`)}`]);
        break;
      default:
        break;
    }
    this.#redraw();
  }

  finish(): void {
    this.#clear();
  }

  #redraw(): void {
    if (!this.#live) return;
    this.#clear();
    this.#draw();
  }

  #clear(): void {
    if (!this.#live || this.#drawn === 0) return;
    this.#stream.write(`\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    if (!this.#live) return;
    const done: readonly string[] = ['ok', 'changed', 'wouldChange', 'drift', 'failed', 'unreachable'];
    const active = [...this.#hosts].filter(([, entry]) => !done.includes(entry.state));
    const shown = active.slice(0, Math.max(1, (this.#stream.rows || 24) - 4));
    const statuses = this.#mode === 'verify' ? (['drift', 'ok', 'failed', 'skipped'] as const) : this.#mode === 'plan' ? (['wouldChange', 'ok', 'failed', 'skipped'] as const) : (['changed', 'ok', 'failed', 'skipped'] as const);
    for (const [host, entry] of shown) {
      const counts = statuses.map((status) => `${entry.counts[status]} ${STATUS_WORD[status]}`).join(', ');
      this.#stream.write(`${pc.cyan('…')} ${pc.bold(host)}  ${entry.state}  ${pc.dim(counts)}\n`);
    }
    this.#drawn = shown.length;
  }
}
