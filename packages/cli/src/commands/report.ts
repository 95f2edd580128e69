import path from 'node:path';
import pc from 'picocolors';
import { connectHost, formatError, isUnreachableError, mapPool, shellQuote, type Host } from '@fettle/core';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';
import type { PullReport } from '../site-package/reports.js';
import { PULL_STATE_DIR } from './pull.js';

/** What the controller learned of one node's last pull. */
export interface NodeStatus {
  readonly host: string;
  /** reported: a last-run.json was read; never-pulled: there is none; unreachable: the host could not be asked. */
  readonly status: 'reported' | 'never-pulled' | 'unreachable' | 'unreadable';
  readonly report?: PullReport | undefined;
  readonly error?: string | undefined;
}

const NONE = 'fettle-report: none';

/** One command on the host: print its last pull report, or say there is none. */
async function readNode(site: LoadedSite, host: Host, stateDir: string | undefined): Promise<NodeStatus> {
  let transport;
  try {
    transport = await connectHost(site.registry, host, { siteDir: site.dir, warn: () => undefined });
  } catch (error) {
    return { host: host.name, status: 'unreachable', error: isUnreachableError(error) ? error.message : formatError(error) };
  }
  try {
    const file = path.posix.join(stateDir ?? path.posix.join(transport.root, PULL_STATE_DIR), 'last-run.json');
    const result = await transport.exec(`cat ${shellQuote(file)} 2>/dev/null || echo ${shellQuote(NONE)}`);
    const text = result.stdout.toString().trim();
    if (text === NONE) return { host: host.name, status: 'never-pulled' };
    try {
      return { host: host.name, status: 'reported', report: JSON.parse(text) as PullReport };
    } catch {
      return { host: host.name, status: 'unreadable', error: `${file} is not a pull report` };
    }
  } catch (error) {
    return { host: host.name, status: 'unreachable', error: formatError(error) };
  } finally {
    await transport.close().catch(() => undefined);
  }
}

function line(node: NodeStatus, width: number): string {
  const name = node.host.padEnd(width);
  if (node.status !== 'reported' || !node.report) return `${name}  ${pc.red(node.status)}${node.error ? `: ${node.error}` : ''}`;
  const report = node.report;
  const state = report.success ? pc.green('ok') : pc.red('FAILED');
  const counts = `${report.summary.changed} changed, ${report.summary.failed} failed`;
  const wanted = report.wanted && report.wanted !== report.version ? ` (wanted ${report.wanted})` : '';
  return `${name}  ${state.padEnd(16)}  ${String(report.version ?? '-').padEnd(18)}${wanted}  ${report.finishedAt}  ${counts}${report.error ? `  ${pc.dim(report.error.split('\n')[0] ?? '')}` : ''}`;
}

/**
 * `fettle report [selector]`: each node's last pull report, read with one command
 * per host, so a person sees which version each node runs and whether its last run
 * succeeded. Exit 0 when every node reported a clean run, 1 when one failed or
 * never pulled, 2 when one could not be reached.
 */
export async function reportCommand(site: LoadedSite, out: Output, options: { selector?: string | undefined; stateDir?: string | undefined; concurrency?: number | undefined }): Promise<number> {
  const hosts = await site.select(options.selector);
  const nodes = await mapPool(hosts, options.concurrency ?? site.config.concurrency ?? 32, (host) => readNode(site, host, options.stateDir));
  const versions: Record<string, number> = {};
  for (const node of nodes) if (node.report?.version) versions[node.report.version] = (versions[node.report.version] ?? 0) + 1;
  if (out.json) out.document({ nodes, versions });
  else {
    const width = Math.max(4, ...nodes.map((node) => node.host.length));
    out.line(pc.dim(`${'host'.padEnd(width)}  last run  version             finished                  items`));
    for (const node of nodes) out.line(line(node, width));
    out.line(`versions: ${Object.entries(versions).map(([version, count]) => `${version} on ${count}`).join(', ') || 'none'}`);
  }
  if (nodes.some((node) => node.status === 'unreachable')) return EXIT.unreachable;
  if (nodes.some((node) => node.status !== 'reported' || !node.report?.success)) return EXIT.failed;
  return EXIT.ok;
}
