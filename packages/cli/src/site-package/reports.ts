import { readFileSync } from 'node:fs';
import { writeFileAtomic, type RunResult } from '@fettle/core';

/** `last-run.json` in the pull state folder: what the node last did, for people and for `fettle report`. */
export interface PullReport {
  readonly format: 'fettle-pull-report-1';
  readonly site: string;
  readonly node: string;
  /** The version the node runs: the one applied by the last run that got to apply. */
  readonly version: string | null;
  /** The version this pull wanted, when it differs (a refused tarball, say). */
  readonly wanted?: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly success: boolean;
  readonly summary: { readonly changed: number; readonly ok: number; readonly failed: number; readonly skipped: number };
  readonly error?: string | undefined;
  readonly registry: { readonly url: string; readonly requests: number; readonly bytes: number };
  readonly run?: RunResult | undefined;
}

export function readPullReport(file: string): PullReport | undefined {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8')) as PullReport;
    return report.format === 'fettle-pull-report-1' ? report : undefined;
  } catch {
    return undefined;
  }
}

/** A label value in the text exposition format: backslash, quote and newline escaped. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The report in Prometheus' text exposition format, for node_exporter's textfile
 * collector. `fettle_last_pull_timestamp_seconds` moves on every pull, even one
 * that found nothing to do, so a stuck timer shows as a stale timestamp.
 */
export function prometheusText(report: PullReport, pulledAt: Date): string {
  const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);
  const site = label(report.site);
  const lines = [
    '# HELP fettle_last_run_timestamp_seconds Unix time the last fettle pull run finished.',
    '# TYPE fettle_last_run_timestamp_seconds gauge',
    `fettle_last_run_timestamp_seconds{site="${site}"} ${seconds(report.finishedAt)}`,
    '# HELP fettle_last_run_success 1 if the last fettle pull run applied the site with no failed item, else 0.',
    '# TYPE fettle_last_run_success gauge',
    `fettle_last_run_success{site="${site}"} ${report.success ? 1 : 0}`,
    '# HELP fettle_items Items of the last fettle pull run by state.',
    '# TYPE fettle_items gauge',
    ...(['changed', 'ok', 'failed', 'skipped'] as const).map((state) => `fettle_items{site="${site}",state="${state}"} ${report.summary[state]}`),
    '# HELP fettle_site_version_info The site version this node runs.',
    '# TYPE fettle_site_version_info gauge',
    `fettle_site_version_info{site="${site}",version="${label(report.version ?? 'none')}"} 1`,
    '# HELP fettle_last_pull_timestamp_seconds Unix time fettle pull last checked the registry.',
    '# TYPE fettle_last_pull_timestamp_seconds gauge',
    `fettle_last_pull_timestamp_seconds{site="${site}"} ${Math.floor(pulledAt.getTime() / 1000)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Both reports, each written atomically (node_exporter never reads half a file). */
export async function writeReports(reportFile: string, textfile: string, report: PullReport, pulledAt: Date): Promise<void> {
  await writeFileAtomic(reportFile, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644, createFolder: true, folderMode: 0o755 });
  await writeFileAtomic(textfile, prometheusText(report, pulledAt), { mode: 0o644, createFolder: true, folderMode: 0o755 });
}
