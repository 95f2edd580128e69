import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FettleError, type CommandContext, type CommandDefinition, type CommandOption, type Host, type Transport } from '@fettle/core';
import { cachedReport, defaultCachePath, discover, listUpdates, ping, syncRepos, type FleetOptions } from './fleet.js';
import { renderMarkdown, renderText, summaryLine } from './format.js';
import { renderHtml } from './html.js';
import type { FleetReport } from './model.js';
import { Progress } from './progress.js';
import { exitCodeFor } from './summary.js';

/** `90`, `90s`, `30m`, `24h`, `7d` → milliseconds (a bare number is seconds). */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?$/.exec(text.trim());
  if (!match) throw new FettleError('E_ARGUMENT', `${flag} '${text}' is not a duration`, { where: flag, expected: 'a number with s, m, h or d (24h, 30m, 7d)' });
  const unit = { s: 1, m: 60, min: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * unit * 1000;
}

function parseCount(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new FettleError('E_ARGUMENT', `${flag} ${JSON.stringify(value)} is not a positive whole number`, { where: flag });
  return n;
}

const opt = (flags: string, description: string, defaultValue?: string | boolean): CommandOption => ({ flags, description, default: defaultValue });

const COMMON: readonly CommandOption[] = [
  opt('--concurrency <n>', 'hosts worked on at once', '32'),
  opt('--cache <file>', 'state cache file (default <site>/.fettle/state.json)'),
  opt('--timeout <duration>', 'deadline of each remote command', '10m'),
];
const STALE = opt('--stale-after <duration>', 'cached data older than this is refreshed (24h, 30m, 7d)', '24h');
const REFRESH = opt('--refresh', 'ask every host, even when the cache is fresh');

type Selected = { hosts: readonly Host[]; options: FleetOptions; progress: Progress };

/** Shared set-up of the host commands: hosts, connect, cache, clock and streaming output. */
async function prepare(context: CommandContext, command: FleetReport['command']): Promise<Selected> {
  // The CLI gives plugin commands connect() (core CommandContext); older CLIs did not.
  const connect = (context as Partial<Pick<CommandContext, 'connect'>>).connect;
  if (typeof connect !== 'function') {
    throw new FettleError('E_INTERNAL', 'this fettle CLI gives plugin commands no connect()', { hint: 'update @fettle/cli to a version with CommandContext.connect' });
  }
  const o = context.options;
  const hosts = await context.selectHosts(context.args[0]);
  const progress = new Progress(
    command,
    hosts.map((host) => host.name),
    { line: (text) => context.out.line(text), live: context.isTTY && process.stderr.isTTY ? process.stderr : undefined },
    context.json,
  );
  const options: FleetOptions = {
    hosts,
    connect: (host): Promise<Transport> => connect(host),
    cachePath: typeof o['cache'] === 'string' ? path.resolve(context.siteDir, o['cache']) : defaultCachePath(context.siteDir),
    staleAfterMs: typeof o['staleAfter'] === 'string' ? parseDuration(o['staleAfter'], '--stale-after') : undefined,
    refresh: o['refresh'] === true,
    concurrency: parseCount(o['concurrency'], '--concurrency'),
    commandTimeoutMs: typeof o['timeout'] === 'string' ? parseDuration(o['timeout'], '--timeout') : undefined,
    onHost: (report) => progress.onHost(report),
    warn: (message) => context.out.error(`warning: ${message}`),
  };
  return { hosts, options, progress };
}

function finish(context: CommandContext, report: FleetReport, progress: Progress): number {
  progress.finish();
  if (context.json) context.out.json(report);
  else context.out.line(summaryLine(report.summary, report.command));
  return exitCodeFor(report);
}

function hostCommand(
  name: FleetReport['command'],
  summary: string,
  options: readonly CommandOption[],
  run: (options: FleetOptions, context: CommandContext) => Promise<FleetReport>,
): CommandDefinition {
  return {
    name,
    summary,
    args: '[selector]',
    options: [...options, ...COMMON],
    async run(context) {
      const { options: fleet, progress } = await prepare(context, name);
      return finish(context, await run(fleet, context), progress);
    },
  };
}

export const discoverCommand = hostCommand('discover', 'detect OS, version, flavor, architecture and package manager of hosts', [REFRESH, STALE], (o) =>
  discover(o),
);

export const pingCommand = hostCommand('ping', 'check hosts are reachable and authenticated, and say why not', [], (o) => ping(o));

export const updatesCommand = hostCommand(
  'updates',
  'list pending package updates (security ones marked) and whether a reboot is due',
  [opt('--security', 'list only security updates'), REFRESH, STALE],
  (o, context) => listUpdates({ ...o, securityOnly: context.options['security'] === true }),
);

export const syncReposCommand = hostCommand('sync-repos', 'refresh package lists (apt-get update, dnf makecache, …); needs root or sudo_policy nopasswd', [], (o) =>
  syncRepos(o),
);

const FORMATS = ['text', 'markdown', 'html', 'json'] as const;

export const reportCommand: CommandDefinition = {
  name: 'report',
  summary: 'report what the state cache knows of hosts, without contacting them',
  args: '[selector]',
  options: [
    opt('--format <format>', `${FORMATS.join(', ')}`, 'text'),
    opt('--output <file>', 'write the report to a file instead of stdout'),
    STALE,
    opt('--cache <file>', 'state cache file (default <site>/.fettle/state.json)'),
  ],
  async run(context) {
    const o = context.options;
    const format = context.json ? 'json' : typeof o['format'] === 'string' ? o['format'] : 'text';
    if (!(FORMATS as readonly string[]).includes(format)) {
      throw new FettleError('E_ARGUMENT', `--format '${format}' is not a report format`, { where: '--format', expected: FORMATS.join(', ') });
    }
    const report = await cachedReport({
      hosts: await context.selectHosts(context.args[0]),
      cachePath: typeof o['cache'] === 'string' ? path.resolve(context.siteDir, o['cache']) : defaultCachePath(context.siteDir),
      staleAfterMs: typeof o['staleAfter'] === 'string' ? parseDuration(o['staleAfter'], '--stale-after') : undefined,
      warn: (message) => context.out.error(`warning: ${message}`),
    });
    const output = typeof o['output'] === 'string' ? path.resolve(process.cwd(), o['output']) : undefined;
    const text =
      format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'html' ? renderHtml(report) : format === 'markdown' ? renderMarkdown(report) : renderText(report);
    if (output) {
      await writeFile(output, text);
      context.out.error(`wrote the ${format} report to ${output}`);
    } else if (format === 'json') {
      context.out.json(report);
    } else {
      context.out.line(text.replace(/\n$/, ''));
    }
    return 0;
  },
};

export const fleetCommands: readonly CommandDefinition[] = [discoverCommand, pingCommand, updatesCommand, syncReposCommand, reportCommand];
