import type { FleetReport, HostReport, Summary } from './model.js';

/** Text and Markdown renderings of a fleet report, and the one-line forms streamed as hosts finish. */

export const REASON_TEXT: Readonly<Record<string, string>> = {
  refused: 'connection refused',
  timeout: 'timed out',
  'host-key': 'host key rejected',
  auth: 'authentication failed',
  dns: 'name not resolved',
  lost: 'connection lost',
  other: 'unreachable',
};

/** "3 min ago", "2 h ago", "5 d ago"; "never" for null. */
export function ago(iso: string | null, now: Date): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, (now.getTime() - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function osText(host: HostReport): string {
  const d = host.discovery;
  if (!d) return '';
  return d.name ?? ([d.flavor ?? d.os, d.version].filter(Boolean).join(' ') || d.os);
}

export function updatesText(host: HostReport): string {
  const u = host.updates;
  if (!u) return '';
  const security = u.packages.filter((p) => p.security).length;
  const parts = [`${u.packages.length} update${u.packages.length === 1 ? '' : 's'}`];
  parts[0] += u.securityChecked ? ` (${security} security)` : ' (security unknown)';
  if (u.rebootRequired) parts.push('reboot required');
  return parts.join(', ');
}

/** Why a host is not ok, in a few words. */
export function problemText(host: HostReport): string {
  if (host.status === 'unreachable') {
    const reason = REASON_TEXT[host.reason ?? 'other'] ?? 'unreachable';
    // Transports often say it already ("… connection refused"): no need to say it twice.
    if (host.message?.toLowerCase().includes(reason)) return host.message;
    return `${reason}${host.message ? `: ${host.message}` : ''}`;
  }
  return host.message ?? '';
}

/** The line printed when a host finishes. */
export function hostLine(command: FleetReport['command'], host: HostReport, width = 0): string {
  const name = host.name.padEnd(width);
  const cached = host.source === 'cache' ? ' (cached)' : '';
  // Statuses padded to the longest ('unreachable'), so details line up.
  if (host.status !== 'ok') return `${name}  ${host.status.padEnd(11)}  ${problemText(host)}`.trimEnd();
  let detail = '';
  if (command === 'discover') {
    const d = host.discovery;
    detail = d ? [osText(host), d.arch, d.packageManager ?? 'no package manager'].join(' · ') : '';
  } else if (command === 'ping') {
    detail = host.latencyMs === null ? '' : `${host.latencyMs} ms`;
  } else if (command === 'updates') {
    detail = updatesText(host);
  } else if (command === 'sync-repos') {
    detail = `${host.discovery?.packageManager ?? ''} repositories refreshed`.trim();
  }
  const warnings = host.warnings.map((w) => `\n${' '.repeat(width + 15)}warning: ${w}`).join('');
  return `${name}  ${'ok'.padEnd(11)}  ${detail}${cached}${warnings}`.trimEnd();
}

export function summaryLine(summary: Summary, command: FleetReport['command']): string {
  const parts = [`${summary.ok} ok`, `${summary.unreachable} unreachable`, `${summary.failed} failed`, `${summary.skipped} skipped`];
  if (summary.unknown) parts.push(`${summary.unknown} never contacted`);
  let text = `summary: ${summary.hosts} host${summary.hosts === 1 ? '' : 's'}: ${parts.join(', ')}`;
  if (command === 'updates' || command === 'report') {
    text += ` · ${summary.updates} updates (${summary.security} security) · ${summary.rebootRequired} need a reboot · ${summary.stale} stale`;
  }
  return text;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
}

function hostRow(host: HostReport, now: Date): string[] {
  const u = host.updates;
  return [
    host.name,
    host.status === 'unreachable' ? `unreachable (${host.reason ?? 'other'})` : host.status,
    osText(host) || '-',
    host.discovery?.packageManager ?? '-',
    u ? String(u.packages.length) : '-',
    u ? (u.securityChecked ? String(u.packages.filter((p) => p.security).length) : '?') : '-',
    u?.rebootRequired ? 'yes' : u?.rebootRequired === false ? 'no' : '-',
    ago(host.lastRefresh, now),
    host.stale ? 'STALE' : '',
  ];
}

const HEADER = ['HOST', 'STATUS', 'OS', 'PKG', 'UPDATES', 'SECURITY', 'REBOOT', 'REFRESHED', ''];

export function renderText(report: FleetReport): string {
  const now = new Date(report.generatedAt);
  const lines = [`fettle fleet report, ${report.generatedAt} (stale after ${report.staleAfterSeconds / 3600} h)`, ''];
  lines.push(...table([HEADER, ...report.hosts.map((host) => hostRow(host, now))]));
  lines.push('', summaryLine(report.summary, 'report'));
  for (const host of report.hosts.filter((h) => h.status !== 'ok' && h.status !== 'unknown')) lines.push(`${host.name}: ${problemText(host)}`);
  return `${lines.join('\n')}\n`;
}

const md = (text: string): string => text.replace(/([|\\`*_<>])/g, '\\$1');

export function renderMarkdown(report: FleetReport): string {
  const now = new Date(report.generatedAt);
  const s = report.summary;
  const out = [
    '# Fleet report',
    '',
    `Generated ${report.generatedAt}; hosts are stale when their updates were not listed for ${report.staleAfterSeconds / 3600} h.`,
    '',
    `**${s.hosts}** hosts: ${s.ok} ok, ${s.unreachable} unreachable, ${s.failed} failed, ${s.skipped} skipped, ${s.unknown} never contacted. ` +
      `**${s.updates}** pending updates, **${s.security}** security; ${s.rebootRequired} need a reboot; ${s.stale} stale.`,
    '',
    `| ${HEADER.slice(0, -1).join(' | ')} | STALE |`,
    `|${HEADER.map(() => ' --- ').join('|')}|`,
    ...report.hosts.map((host) => `| ${hostRow(host, now).map(md).join(' | ')} |`),
  ];
  const withSecurity = report.hosts.filter((host) => host.updates?.packages.some((p) => p.security));
  if (withSecurity.length > 0) {
    out.push('', '## Security updates', '');
    for (const host of withSecurity) {
      out.push(`### ${md(host.name)}`, '', '| package | installed | new | source |', '| --- | --- | --- | --- |');
      for (const p of host.updates?.packages.filter((u) => u.security) ?? []) {
        out.push(`| ${md(p.name)} | ${md(p.currentVersion ?? 'new')} | ${md(p.newVersion)} | ${md(p.source ?? '')} |`);
      }
      out.push('');
    }
  }
  const problems = report.hosts.filter((host) => host.status !== 'ok' && host.status !== 'unknown');
  if (problems.length > 0) {
    out.push('', '## Problems', '', ...problems.map((host) => `- **${md(host.name)}**: ${host.status}: ${md(problemText(host))}`));
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
