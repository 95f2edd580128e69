import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import { applyTimer, type TimerOptions } from '../site-package/timer.js';
import { exitCodeOf } from './run.js';
import { PULL_STATE_DIR, type PullOptions } from './pull.js';

export interface TimerCommandOptions {
  readonly install: boolean;
  readonly kind: TimerOptions['kind'];
  readonly onCalendar?: string | undefined;
  readonly randomizedDelay?: number | undefined;
  /** When running from a source site rather than a bundle, the site folder for the timer's command. */
  readonly siteDir?: string | undefined;
}

/** The options of this pull that the timer's pulls repeat. */
function pullArgs(options: PullOptions): string[] {
  const args = [options.spec ?? 'latest'];
  const add = (flag: string, value: string | number | undefined): void => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add('--package', options.package);
  add('--registry', options.registry);
  add('--node', options.node);
  add('--root', options.root);
  add('--node-key', options.nodeKey);
  add('--state-dir', options.stateDir);
  add('--textfile', options.textfile);
  add('--keep', options.keep);
  return args;
}

/**
 * `fettle pull --install-timer | --remove-timer`: a systemd timer (or a cron entry)
 * that runs this same pull with a random delay, put in place — or taken away — by
 * fettle's own file and svc_systemd items. From a bundle, the bundle is first copied
 * into the pull state folder, so the timer does not depend on where it was started.
 */
export async function pullTimerCommand(out: Output, pull: PullOptions, options: TimerCommandOptions): Promise<number> {
  const root = path.resolve(pull.root ?? '/');
  const script = process.argv[1] ?? '';
  let command: string[];
  if (options.siteDir === undefined) {
    const stable = path.join(path.resolve(pull.stateDir ?? path.join(root, PULL_STATE_DIR)), 'fettle-pull.mjs');
    if (options.install && path.resolve(script) !== stable) {
      await mkdir(path.dirname(stable), { recursive: true });
      await copyFile(script, stable);
    }
    command = [process.execPath, stable, 'pull', ...pullArgs(pull)];
  } else {
    command = [process.execPath, path.resolve(script), 'pull', ...pullArgs(pull), '--site', options.siteDir];
  }
  const { kind, result } = await applyTimer(
    { kind: options.kind, onCalendar: options.onCalendar, randomizedDelaySec: options.randomizedDelay ?? 600, command, root },
    options.install,
  );
  const code = exitCodeOf(result);
  if (out.json) out.document({ timer: kind, installed: options.install && code === EXIT.ok, command, result });
  else {
    for (const item of result.hosts[0]?.items ?? []) out.line(`  ${item.status.padEnd(7)} ${item.id}${item.error ? `: ${item.error}` : ''}`);
    out.line(code === EXIT.ok ? `${options.install ? 'installed' : 'removed'} the ${kind} timer for: ${command.join(' ')}` : `the ${kind} timer could not be ${options.install ? 'installed' : 'removed'}`);
  }
  return code;
}
