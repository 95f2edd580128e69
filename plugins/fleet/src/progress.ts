import type { FleetReport, HostReport } from './model.js';
import { hostLine } from './format.js';

export interface ProgressSink {
  /** A finished host's line (stdout; not used under --json). */
  line(text: string): void;
  /** The live status line (stderr on a TTY), or undefined for plain output. */
  readonly live?: { write(text: string): unknown } | undefined;
}

/**
 * Streams results as hosts finish: one plain line per host; on a TTY also a status
 * line with counts, redrawn in place under them.
 */
export class Progress {
  readonly #command: FleetReport['command'];
  readonly #sink: ProgressSink;
  readonly #json: boolean;
  readonly #width: number;
  readonly #total: number;
  readonly #counts = new Map<string, number>();
  #done = 0;
  #drawn = false;

  constructor(command: FleetReport['command'], hostNames: readonly string[], sink: ProgressSink, json: boolean) {
    this.#command = command;
    this.#sink = sink;
    this.#json = json;
    this.#width = Math.max(0, ...hostNames.map((name) => name.length));
    this.#total = hostNames.length;
    this.#draw();
  }

  onHost(report: HostReport): void {
    this.#done++;
    this.#counts.set(report.status, (this.#counts.get(report.status) ?? 0) + 1);
    this.#clear();
    if (!this.#json) this.#sink.line(hostLine(this.#command, report, this.#width));
    this.#draw();
  }

  finish(): void {
    this.#clear();
  }

  /** The status line's text, e.g. `updates 3/10 · 2 ok · 1 unreachable`. */
  statusText(): string {
    const counts = [...this.#counts].map(([status, n]) => `${n} ${status}`);
    return [`${this.#command} ${this.#done}/${this.#total}`, ...counts].join(' · ');
  }

  #draw(): void {
    if (!this.#sink.live || this.#done >= this.#total) return;
    this.#sink.live.write(`${this.statusText()} …`);
    this.#drawn = true;
  }

  #clear(): void {
    if (!this.#sink.live || !this.#drawn) return;
    this.#sink.live.write('\r\x1b[K');
    this.#drawn = false;
  }
}
