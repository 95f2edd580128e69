import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FettleError, formatError, summarize, type RunResult } from '@fettle/core/engine';
import { EXIT } from '../exit-codes.js';
import { NODE_KEY_PATH } from '../node-mode.js';
import type { Output } from '../output.js';
import { Progress, summaryLines } from '../render.js';
import { PACKAGED_BUNDLE } from '../site-package/pack.js';
import { failureLine, isItemEvent, parseEventLine } from '../site-package/events.js';
import { takeLock } from '../site-package/lock.js';
import { registryAccess, type RegistryAccess } from '../site-package/npmrc.js';
import { downloadRelease, resolveRelease, type Release, type RegistryTraffic } from '../site-package/registry-client.js';
import { readPullReport, writeReports, type PullReport } from '../site-package/reports.js';
import { compareVersions } from '../site-package/version.js';
import { exitCodeOf } from './run.js';

import { PULL_STATE_DIR, TEXTFILE_PATH } from './paths.js';

export { PULL_STATE_DIR, TEXTFILE_PATH };

export interface PullOptions {
  /** A dist-tag, a version or a range; default `latest`. */
  readonly spec?: string | undefined;
  /** The site package's name (default: this bundle's, or the site's). */
  readonly package?: string | undefined;
  readonly registry?: string | undefined;
  readonly node?: string | undefined;
  readonly root?: string | undefined;
  readonly nodeKey?: string | undefined;
  readonly stateDir?: string | undefined;
  readonly textfile?: string | undefined;
  readonly force?: boolean | undefined;
  /** Seconds to wait for the lock (default 0: refuse at once when another run holds it). */
  readonly lockWait?: number | undefined;
  /** Installed versions kept for rollback (default 3). */
  readonly keep?: number | undefined;
}

interface PullPaths {
  readonly root: string;
  readonly state: string;
  readonly versions: string;
  readonly report: string;
  readonly textfile: string;
  readonly nodeKey: string;
}

function pullPaths(options: PullOptions): PullPaths {
  const root = path.resolve(options.root ?? '/');
  const state = path.resolve(options.stateDir ?? path.join(root, PULL_STATE_DIR));
  return {
    root,
    state,
    versions: path.join(state, 'versions'),
    report: path.join(state, 'last-run.json'),
    textfile: path.resolve(options.textfile ?? path.join(root, TEXTFILE_PATH)),
    nodeKey: path.resolve(options.nodeKey ?? path.join(root, NODE_KEY_PATH)),
  };
}

/** The version folder holds the unpacked package once `.complete` is there. */
async function install(paths: PullPaths, access: RegistryAccess, release: Release, traffic: RegistryTraffic): Promise<string> {
  const folder = path.join(paths.versions, release.version);
  const bundle = path.join(folder, 'package', PACKAGED_BUNDLE);
  if (existsSync(path.join(folder, '.complete')) && existsSync(bundle)) return bundle;
  const data = await downloadRelease(access, release, traffic);
  const temp = `${folder}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  const tarball = path.join(temp, 'package.tgz');
  await writeFile(tarball, data);
  // tar is in every Debian (essential); --no-same-owner: files belong to the node's root user, not the packer.
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', ['-xzf', tarball, '-C', temp, '--no-same-owner'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new FettleError('E_COMMAND', `cannot unpack ${release.name}@${release.version}: ${stderr.trim()}`, { where: tarball }))));
  });
  await rm(tarball);
  await writeFile(path.join(temp, '.complete'), `${release.integrity}\n`);
  await rm(folder, { recursive: true, force: true });
  await rename(temp, folder);
  return bundle;
}

/** Keep the newest `keep` versions (and always the current one) for rollback. */
async function prune(paths: PullPaths, current: string, keep: number): Promise<void> {
  const entries = (await readdir(paths.versions).catch(() => [] as string[])).filter((entry) => !entry.includes('.tmp-'));
  const old = entries.sort(compareVersions).reverse().slice(keep).filter((entry) => entry !== current);
  await Promise.all(old.map((entry) => rm(path.join(paths.versions, entry), { recursive: true, force: true })));
}

/** Run an installed version's bundle as this node, its events fed to the progress as they come. */
function applyBundle(bundle: string, node: string, paths: PullPaths, progress: Progress | undefined): Promise<{ run?: RunResult | undefined; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, 'apply', '--node', node, '--root', paths.root, '--node-key', paths.nodeKey, '--events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let run: RunResult | undefined;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = parseEventLine(line);
      if (parsed?.kind === 'done') run = parsed.run;
      else if (parsed?.kind === 'event' && (isItemEvent(parsed.event) || parsed.event.type === 'host-start')) progress?.onEvent(parsed.event);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ run, code, stderr }));
  });
}

const emptySummary = { changed: 0, ok: 0, failed: 0, skipped: 0 };

/**
 * `fettle pull [spec]` on a node: resolve the site package on the registry, skip
 * when that version already applied cleanly (unless --force), else install it
 * (integrity checked) into a versioned folder, take the node's lock, apply it
 * locally as this node, and write the JSON report and the Prometheus textfile.
 */
export async function pullCommand(name: string, out: Output, options: PullOptions): Promise<number> {
  const started = new Date();
  const paths = pullPaths(options);
  const node = options.node ?? os.hostname();
  const access = registryAccess(name, { registry: options.registry, cwd: process.cwd() });
  const traffic: RegistryTraffic = { requests: 0, bytes: 0 };
  const last = readPullReport(paths.report);
  const report = (fields: Pick<PullReport, 'version' | 'success' | 'summary'> & Partial<PullReport>): PullReport => ({
    format: 'fettle-pull-report-1',
    site: name,
    node,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    registry: { url: access.url, ...traffic },
    ...fields,
  });

  let release: Release;
  try {
    release = await resolveRelease(access, name, options.spec ?? 'latest', traffic);
  } catch (error) {
    const failed = report({ version: last?.version ?? null, success: false, summary: emptySummary, error: formatError(error) });
    await writeReports(paths.report, paths.textfile, failed, started);
    throw error;
  }
  if (!options.force && last?.success && last.version === release.version) {
    // Nothing to do: only the pull timestamp moves, so monitoring sees the node is alive.
    await writeReports(paths.report, paths.textfile, last, started);
    // The report stays the last run's; what this pull asked the registry is this pull's.
    if (out.json) out.document({ ...last, skipped: true, registry: { url: access.url, ...traffic } });
    else out.line(`${name} ${release.version} already applied on ${last.node} (last run ${last.finishedAt} succeeded); nothing to do (--force to apply again)`);
    return EXIT.ok;
  }

  const unlock = await takeLock(path.join(paths.state, 'lock'), `fettle pull of ${name}@${release.version}`, (options.lockWait ?? 0) * 1000);
  try {
    let bundle: string;
    try {
      bundle = await install(paths, access, release, traffic);
    } catch (error) {
      const failed = report({ version: last?.version ?? null, wanted: release.version, success: false, summary: emptySummary, error: formatError(error) });
      await writeReports(paths.report, paths.textfile, failed, started);
      throw error;
    }
    const progress = out.json ? undefined : new Progress(out.stdout, 'apply', false);
    const applied = await applyBundle(bundle, node, paths, progress);
    progress?.finish();
    const host = applied.run?.hosts[0];
    const summary = applied.run ? summarize(applied.run.hosts) : emptySummary;
    const error = applied.run ? host?.error : `the site bundle failed (exit ${applied.code ?? '?'}): ${failureLine(applied.stderr)}`;
    const success = applied.run !== undefined && exitCodeOf(applied.run) === EXIT.ok;
    const done = report({
      version: applied.run ? release.version : (last?.version ?? null),
      wanted: applied.run ? undefined : release.version,
      success,
      summary: { changed: summary.changed, ok: summary.ok, failed: summary.failed, skipped: summary.skipped },
      error,
      run: applied.run,
    });
    await writeReports(paths.report, paths.textfile, done, started);
    await prune(paths, release.version, options.keep ?? 3);
    if (out.json) out.document(done);
    else {
      if (applied.run) for (const line of summaryLines(applied.run)) out.line(line);
      if (error) out.error(`fettle pull: ${node}: ${error}`);
      out.line(`${name} ${release.version} on ${node}: ${success ? 'applied' : 'FAILED'}`);
    }
    if (!applied.run) return applied.code === EXIT.input ? EXIT.input : EXIT.failed;
    return exitCodeOf(applied.run);
  } finally {
    await unlock();
  }
}
