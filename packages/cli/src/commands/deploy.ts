import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connectHost, formatError, isUnreachableError, mapPool, shellQuote, summarize, type EngineEvent, type Host, type HostResult, type RunMode, type RunResult, type Transport } from '@fettle/core/engine';
import { createSecretPrompt } from '../prompt.js';
import { NODE_KEY_PATH } from '../node-mode.js';
import type { Output } from '../output.js';
import { Progress, summaryLines } from '../render.js';
import type { LoadedSite } from '../site.js';
import { fileBase } from '../site-package/bundle.js';
import { failureLine, parseRunOutput } from '../site-package/events.js';
import { requireBuild, type BuildRecord } from './build.js';
import { exitCodeOf } from './run.js';

/** Where bundles live on a host, under its root. Only fettle writes there: older versions are removed. */
export const DEPLOY_DIR = 'var/lib/fettle/deploy';
const NEED_UPLOAD = 'fettle-deploy: upload needed';

export interface DeployOptions {
  readonly selector: string | undefined;
  readonly mode: RunMode;
  readonly out?: string | undefined;
  readonly concurrency?: number | undefined;
  /** The node's age identity on the host; default ROOT/etc/fettle/node.age. */
  readonly nodeKey?: string | undefined;
  readonly verbose?: boolean | undefined;
}

/** Where one host keeps this build, and how to run it there. */
interface HostPlan {
  readonly dir: string;
  readonly bundle: string;
  readonly script: (prune: boolean) => string;
}

function hostPlan(host: Host, root: string, build: BuildRecord, options: DeployOptions): HostPlan {
  const dir = path.posix.join(root, DEPLOY_DIR);
  const base = `${fileBase(build.name)}-${build.version}`;
  const bundle = path.posix.join(dir, `${base}.mjs`);
  const q = shellQuote;
  const nodeKey = options.nodeKey ?? path.posix.join(root, NODE_KEY_PATH);
  const run = `exec node ${q(bundle)} ${options.mode} --node ${q(host.name)} --root ${q(root)} --node-key ${q(nodeKey)} --events`;
  return {
    dir,
    bundle,
    // One command decides and runs: a host that has this version runs it at once; one that has not says so
    // (and gets the folder made for the upload). After an upload, older versions are removed first.
    script: (prune) =>
      [
        `if [ ! -f ${q(bundle)} ]; then mkdir -p ${q(dir)} && echo ${q(NEED_UPLOAD)}; exit 0; fi`,
        prune ? `for old in ${q(dir)}/*; do case "$old" in ${q(bundle)}|${q(path.posix.join(dir, `${base}.site`))}) ;; *) rm -rf "$old" ;; esac; done` : '',
        `command -v node >/dev/null 2>&1 || { echo 'node is not installed on this host (a site bundle needs only node, 20 or later)' >&2; exit 127; }`,
        run,
      ]
        .filter(Boolean)
        .join('\n'),
  };
}

/** Upload the bundle when the host lacks it, run it there as that host, and turn its output into a host result. */
async function deployHost(host: Host, site: LoadedSite, build: BuildRecord, options: DeployOptions, emit: (event: EngineEvent) => void, uploaded: string[]): Promise<HostResult> {
  const started = Date.now();
  const roundTrips = { execs: 0, fileWrites: 0, fileReads: 0 };
  const result = (fields: Omit<HostResult, 'host' | 'ms' | 'roundTrips'>): HostResult => ({ host: host.name, ...fields, ms: Date.now() - started, roundTrips });
  let transport: Transport;
  try {
    transport = await connectHost(site.registry, host, { siteDir: site.dir, warn: () => undefined, prompt: createSecretPrompt() });
  } catch (error) {
    return result({ status: 'unreachable', items: [], error: isUnreachableError(error) ? error.message : `cannot connect: ${formatError(error)}`, reason: isUnreachableError(error) ? error.reason : 'other' });
  }
  emit({ type: 'host-connected', host: host.name, ms: Date.now() - started });
  try {
    const plan = hostPlan(host, transport.root, build, options);
    roundTrips.execs++;
    let exec = await transport.exec(plan.script(false));
    if (exec.code === 0 && exec.stdout.toString().trim() === NEED_UPLOAD) {
      await transport.writeFile(plan.bundle, readFileSync(build.bundle), { mode: '0644' });
      roundTrips.fileWrites++;
      uploaded.push(host.name);
      roundTrips.execs++;
      exec = await transport.exec(plan.script(true));
    }
    const remote = parseRunOutput(exec.stdout.toString());
    for (const event of remote.events) emit(event);
    if (remote.host) return result({ status: remote.host.status, items: remote.host.items, error: remote.host.error, readonly: remote.host.readonly });
    return result({ status: 'failed', items: [], error: `the site bundle failed on the host (exit ${exec.code ?? exec.signal ?? '?'}): ${failureLine(exec.stderr.toString())}` });
  } catch (error) {
    return result({ status: isUnreachableError(error) ? 'unreachable' : 'failed', items: [], error: formatError(error) });
  } finally {
    await transport.close().catch(() => undefined);
  }
}

/**
 * `fettle deploy [selector]` (progfiguration's `deploy apply`): the last build's
 * bundle goes to each selected host once per version, then runs there in local
 * mode for that host only; its results come back into the usual progress, summary
 * and `--json`. Each node reads its secrets with its own key.
 */
export async function deployCommand(site: LoadedSite, out: Output, options: DeployOptions): Promise<number> {
  const build = requireBuild(site, options.out);
  const hosts = await site.select(options.selector);
  const progress = out.json ? undefined : new Progress(out.stdout, options.mode, options.verbose ?? false);
  const emit = (event: EngineEvent): void => progress?.onEvent(out.redactor.scrubValue(event));
  const uploaded: string[] = [];
  const started = Date.now();
  const results = await mapPool(hosts, options.concurrency ?? site.config.concurrency ?? 32, async (host) => {
    emit({ type: 'host-start', host: host.name });
    const hostResult = await deployHost(host, site, build, options, emit, uploaded);
    emit({ type: 'host-done', host: host.name, result: hostResult });
    return hostResult;
  });
  const run: RunResult = { mode: options.mode, summary: summarize(results), hosts: results, ms: Date.now() - started };
  progress?.finish();
  if (out.json) out.document({ ...run, deploy: { name: build.name, version: build.version, uploaded: uploaded.sort() } });
  else {
    for (const line of summaryLines(run)) out.line(line);
    out.line(`deployed ${build.name} ${build.version}: uploaded to ${uploaded.length} of ${hosts.length} host${hosts.length === 1 ? '' : 's'}`);
  }
  return exitCodeOf(run);
}
