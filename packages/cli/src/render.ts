import pc from 'picocolors';
import type { EngineEvent, HostResult, ItemResult, RunResult } from '@fettle/core';

const SYMBOL: Record<ItemResult['status'], string> = { ok: '✓', changed: '~', failed: '✗', skipped: '-' };

function statusWord(result: ItemResult, mode: RunResult['mode']): string {
  if (result.status === 'changed') {
    const verb = result.action === 'create' ? 'create' : result.action === 'delete' ? 'delete' : 'change';
    return mode === 'apply' ? `${verb}d` : `would ${verb}`;
  }
  if (result.status === 'failed') return `failed: ${result.error ?? ''}`;
  if (result.status === 'skipped') return `skipped: ${result.reason ?? ''}`;
  return 'ok';
}

function colour(result: ItemResult, text: string): string {
  if (result.status === 'changed') return pc.yellow(text);
  if (result.status === 'failed') return pc.red(text);
  if (result.status === 'skipped') return pc.dim(text);
  return pc.green(text);
}

/** The lines that describe one item result: a status line, its diff, its detail. */
export function itemLines(host: string, result: ItemResult, mode: RunResult['mode']): string[] {
  const lines = [`${pc.bold(host)}  ${colour(result, `${SYMBOL[result.status]} ${result.id}`)}  ${statusWord(result, mode)}`];
  if (result.status === 'changed' || (result.status === 'failed' && result.diff)) {
    for (const line of result.diff ?? []) {
      if (line.have === undefined) lines.push(`    ${pc.dim(line.key)}  ${line.want ?? ''}`);
      else if (line.want === undefined) lines.push(`    ${pc.dim(line.key)}  ${line.have}`);
      else lines.push(`    ${pc.dim(line.key)}  ${pc.red(line.have)} → ${pc.green(line.want)}`);
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

export function hostCounts(result: HostResult): Record<ItemResult['status'], number> {
  const counts = { ok: 0, changed: 0, failed: 0, skipped: 0 };
  for (const item of result.items) counts[item.status]++;
  return counts;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** The closing table and summary line. */
export function summaryLines(run: RunResult): string[] {
  const label = run.mode === 'apply' ? 'changed' : 'to change';
  const width = Math.max(4, ...run.hosts.map((h) => h.host.length));
  const lines = [pc.dim(`${'host'.padEnd(width)}  ${label.padStart(9)}  ${'ok'.padStart(5)}  ${'failed'.padStart(6)}  ${'skipped'.padStart(7)}  time`)];
  for (const host of run.hosts) {
    const counts = hostCounts(host);
    if (host.status === 'unreachable') {
      lines.push(`${host.host.padEnd(width)}  ${pc.red(`unreachable: ${host.error ?? ''}`)}`);
      continue;
    }
    const row = `${host.host.padEnd(width)}  ${String(counts.changed).padStart(9)}  ${String(counts.ok).padStart(5)}  ${String(counts.failed).padStart(6)}  ${String(counts.skipped).padStart(7)}  ${seconds(host.ms)}`;
    lines.push(host.error ? `${row}  ${pc.red(host.error)}` : host.readonly ? `${row}  ${pc.dim('readonly: nothing changed')}` : row);
  }
  const s = run.summary;
  lines.push(
    `${pc.bold('summary')}: ${s.changed} ${label}, ${s.ok} ok, ${s.failed} failed, ${s.skipped} skipped, ${s.unreachable} unreachable (${s.hosts} host${s.hosts === 1 ? '' : 's'}, ${seconds(run.ms)})`,
  );
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
  readonly #hosts = new Map<string, { state: string; counts: Record<ItemResult['status'], number> }>();
  #drawn = 0;

  constructor(stream: NodeJS.WriteStream, mode: RunResult['mode'], verbose: boolean) {
    this.#stream = stream;
    this.#live = Boolean(stream.isTTY) && process.env['TERM'] !== 'dumb';
    this.#mode = mode;
    this.#verbose = verbose;
  }

  print(lines: string[]): void {
    this.#clear();
    for (const line of lines) this.#stream.write(`${line}\n`);
    this.#draw();
  }

  onEvent(event: EngineEvent): void {
    const entry = this.#hosts.get(event.host) ?? { state: 'waiting', counts: { ok: 0, changed: 0, failed: 0, skipped: 0 } };
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
        if (event.result.status !== 'ok' || this.#verbose) this.print(itemLines(event.host, event.result, this.#mode));
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
    const active = [...this.#hosts].filter(([, entry]) => !['ok', 'changed', 'failed', 'unreachable'].includes(entry.state));
    const shown = active.slice(0, Math.max(1, (this.#stream.rows || 24) - 4));
    for (const [host, entry] of shown) {
      const { ok, changed, failed, skipped } = entry.counts;
      this.#stream.write(`${pc.cyan('…')} ${pc.bold(host)}  ${entry.state}  ${pc.dim(`${changed} changed, ${ok} ok, ${failed} failed, ${skipped} skipped`)}\n`);
    }
    this.#drawn = shown.length;
  }
}
