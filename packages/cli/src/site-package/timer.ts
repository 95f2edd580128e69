import { existsSync } from 'node:fs';
import path from 'node:path';
import { runItems, type ItemMap, type RunResult } from '@fettle/core';
import files from '@fettle/items-files';
import systemd from '@fettle/items-systemd';
import local from '@fettle/transport-local';

export const TIMER_UNIT = 'fettle-pull.timer';
export const SERVICE_UNIT = 'fettle-pull.service';
export const CRON_FILE = '/etc/cron.d/fettle-pull';

export interface TimerOptions {
  /** `systemd` (a timer unit) or `cron` (an /etc/cron.d entry); `auto`: systemd when it runs here. */
  readonly kind: 'systemd' | 'cron' | 'auto';
  /** systemd OnCalendar (default every 15 minutes); for cron, the minute step is taken from `intervalMinutes`. */
  readonly onCalendar?: string | undefined;
  readonly intervalMinutes?: number | undefined;
  /** Seconds of random delay before each pull, so a fleet does not hit the registry in the same second. */
  readonly randomizedDelaySec: number;
  /** The pull command line, argv. */
  readonly command: readonly string[];
  readonly root: string;
}

/** An argv as systemd's ExecStart reads it: each word double-quoted, `%` doubled. */
function execStart(argv: readonly string[]): string {
  return argv.map((word) => `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`).join(' ');
}

/** An argv for /bin/sh in a crontab line (no `%`, which cron would turn into a newline). */
function shellLine(argv: readonly string[]): string {
  return argv.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ').replace(/%/g, '\\%');
}

function resolvedKind(options: TimerOptions): 'systemd' | 'cron' {
  if (options.kind !== 'auto') return options.kind;
  return existsSync(path.join(options.root, 'run/systemd/system')) ? 'systemd' : 'cron';
}

/** The items of the timer (present) or of its removal (absent): fettle's own file and svc_systemd items. */
export function timerItems(options: TimerOptions, present: boolean): { kind: 'systemd' | 'cron'; items: ItemMap } {
  const kind = resolvedKind(options);
  const service = `/etc/systemd/system/${SERVICE_UNIT}`;
  const timer = `/etc/systemd/system/${TIMER_UNIT}`;
  if (kind === 'cron') {
    const step = options.intervalMinutes ?? 15;
    const line = `*/${step} * * * * root sleep $(shuf -i 0-${options.randomizedDelaySec} -n 1) && ${shellLine(options.command)} >/dev/null 2>&1\n`;
    return { kind, items: { [`file:${CRON_FILE}`]: present ? { content: `# fettle pull, installed by fettle pull --install-timer\n${line}`, mode: '0644' } : { delete: true } } };
  }
  if (!present) {
    return {
      kind,
      items: {
        [`svc_systemd:${TIMER_UNIT}`]: { enabled: false, running: false },
        // Reloaded under the service's name: svc_systemd:<timer> itself needs the timer's reload, which here must come after it.
        [`file:${timer}`]: { delete: true, needs: [`svc_systemd:${TIMER_UNIT}`], triggers: [`svc_systemd_daemon_reload:${SERVICE_UNIT}`] },
        [`file:${service}`]: { delete: true, needs: [`svc_systemd:${TIMER_UNIT}`], triggers: [`svc_systemd_daemon_reload:${SERVICE_UNIT}`] },
        [`svc_systemd_daemon_reload:${SERVICE_UNIT}`]: {},
      },
    };
  }
  const serviceText = [
    '[Unit]',
    'Description=fettle pull: apply the published site to this node',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${execStart(options.command)}`,
    '',
  ].join('\n');
  const timerText = [
    '[Unit]',
    'Description=fettle pull on a timer, with a random delay so a fleet spreads its requests',
    '',
    '[Timer]',
    `OnCalendar=${options.onCalendar ?? '*:0/15'}`,
    `RandomizedDelaySec=${options.randomizedDelaySec}`,
    'AccuracySec=1s',
    'Persistent=true',
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  const reload = `svc_systemd_daemon_reload:${TIMER_UNIT}`;
  return {
    kind,
    items: {
      [`file:${service}`]: { content: serviceText, mode: '0644', triggers: [reload] },
      [`file:${timer}`]: { content: timerText, mode: '0644', triggers: [reload, `svc_systemd_restart:${TIMER_UNIT}`] },
      [reload]: {},
      [`svc_systemd_restart:${TIMER_UNIT}`]: { needs: [reload] },
      [`svc_systemd:${TIMER_UNIT}`]: { enabled: true, running: true, needs: [`file:${service}`, `file:${timer}`, reload] },
    },
  };
}

/** Install or remove the timer on this machine, through the engine like any items. */
export async function applyTimer(options: TimerOptions, present: boolean): Promise<{ kind: 'systemd' | 'cron'; result: RunResult }> {
  const { kind, items } = timerItems(options, present);
  const { result } = await runItems({
    plugins: [files, systemd, local],
    hostName: 'this-node',
    host: { transport: 'local', transportOptions: { root: options.root } },
    items,
    siteDir: options.root,
  });
  return { kind, result };
}
