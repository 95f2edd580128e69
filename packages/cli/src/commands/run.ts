import { setMaxListeners } from 'node:events';
import { runSite, type ItemResult, type RunMode, type RunResult } from '@fettle/core';
import { EXIT } from '../exit-codes.js';
import { createSecretPrompt } from '../prompt.js';
import type { Output } from '../output.js';
import { Progress, itemLines, summaryLines } from '../render.js';
import type { LoadedSite } from '../site.js';

export interface RunCommandOptions {
  readonly selector: string | undefined;
  readonly mode: RunMode;
  readonly interactive?: boolean | undefined;
  readonly concurrency?: number | undefined;
  readonly verbose?: boolean | undefined;
  /** One JSON line per engine event, then `{"type":"run-done","run":…}`: what `deploy` reads from a node. */
  readonly events?: boolean | undefined;
  readonly forceLock?: boolean | undefined;
}

/** Exit code of a finished run: unreachable hosts outrank failed items. */
export function exitCodeOf(run: RunResult): number {
  if (run.summary.unreachable > 0) return EXIT.unreachable;
  if (run.summary.failed > 0 || run.hosts.some((host) => host.status === 'failed')) return EXIT.failed;
  if (run.summary.drift > 0) return EXIT.failed;
  return EXIT.ok;
}

/** After Ctrl-C: what was done and what was not, in one line (the table above has the detail). */
function interruptedLine(run: RunResult): string {
  const items = run.hosts.flatMap((host) => host.items);
  const notDone = items.filter((item) => item.status === 'skipped' && item.reason === 'interrupted').length;
  const done = items.filter((item) => item.status === 'changed').length;
  const untouched = run.hosts.filter((host) => host.reason === 'interrupted').length;
  return `interrupted: ${done} item(s) done, ${notDone} not started${untouched ? `, ${untouched} host(s) not contacted` : ''}; host locks released`;
}

/** `fettle plan | apply | verify`. */
export async function runCommand(site: LoadedSite, out: Output, options: RunCommandOptions): Promise<number> {
  const hosts = await site.select(options.selector);
  const progress = out.json || options.events ? undefined : new Progress(out.stdout, options.mode, options.verbose ?? false);
  const eventLine = (value: unknown): void => void out.stdout.write(`${JSON.stringify(out.redactor.scrubValue(value))}\n`);
  const abort = new AbortController();
  // Every host being connected listens to this one signal: more than 10 at once is normal, not a leak.
  setMaxListeners(0, abort.signal);
  // First Ctrl-C: no host starts a new wave or item, in-flight writes finish, locks
  // are released, the partial summary prints. Second: out at once (writes are atomic,
  // so nothing is left half-written in place).
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted);
    abort.abort();
    out.error('interrupted: finishing what is in flight, releasing locks (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  let confirm: ((host: string, result: ItemResult) => Promise<boolean>) | undefined;
  // readline loads only for -i: a plain run has no use for it.
  const prompt = options.interactive
    ? (await import('node:readline/promises')).createInterface({ input: process.stdin, terminal: Boolean(process.stdin.isTTY) })
    : undefined;
  if (prompt) {
    // An iterator buffers lines, so answers typed (or piped) ahead are not lost.
    const answers = prompt[Symbol.asyncIterator]();
    confirm = async (host, result) => {
      // Asked before the result is emitted (and scrubbed there): scrub it here too.
      progress?.print(itemLines(host, out.redactor.scrubValue({ ...result, status: 'wouldChange' })));
      out.stdout.write(`apply ${result.id} on ${host}? [y/N] `);
      const next = await answers.next();
      const answer = next.done ? '' : String(next.value).trim().toLowerCase();
      if (!process.stdin.isTTY) out.stdout.write(`${answer}\n`);
      return answer === 'y' || answer === 'yes';
    };
  }
  try {
    const run = await runSite({
      site: site.config,
      siteDir: site.dir,
      registry: site.registry,
      hosts,
      mode: options.mode,
      // Questions must come one at a time.
      concurrency: options.interactive ? 1 : options.concurrency,
      redactor: out.redactor,
      emit: options.events ? eventLine : progress ? (event) => progress.onEvent(event) : undefined,
      confirm,
      // Content diffs only where something shows them: plan, apply -v / -i, --json, --events.
      details: options.mode !== 'apply' || Boolean(options.verbose || options.interactive || out.json || options.events),
      signal: abort.signal,
      lock: { force: options.forceLock },
      warn: (message) => out.error(`warning: ${message}`),
      prompt: createSecretPrompt(),
      locateRole: (role, error) => site.locateRole(role, error),
    });
    progress?.finish();
    if (options.events) eventLine({ type: 'run-done', run });
    else if (out.json) out.document(run);
    else for (const line of summaryLines(run)) out.line(line);
    if (abort.signal.aborted) out.error(interruptedLine(run));
    return abort.signal.aborted ? EXIT.interrupted : exitCodeOf(run);
  } finally {
    prompt?.close();
    process.removeListener('SIGINT', onSignal);
  }
}
