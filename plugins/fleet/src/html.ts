import type { FleetReport, HostReport } from './model.js';
import { ago, osText, problemText } from './format.js';

/**
 * The HTML report: one self-contained page (inline CSS, no scripts, no external
 * requests) a person opens in a browser or gets by mail. Every value is escaped.
 */

const esc = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const CSS = `
:root { color-scheme: light; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; }
.meta { color: var(--muted); margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px; margin-bottom: 24px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--bg); }
.card b { display: block; font-size: 26px; line-height: 1.1; }
.card span { color: var(--muted); font-size: 13px; }
.card.bad b { color: var(--bad); } .card.warn b { color: var(--warn); } .card.good b { color: var(--ok); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: var(--bg); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.status { white-space: nowrap; }
tr.stale > td { background: #fffdf0; } tr.stale td.when { color: var(--warn); font-weight: 600; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid; white-space: nowrap; }
.pill.ok { color: var(--ok); border-color: #aceebb; background: #dafbe1; }
.pill.unreachable, .pill.failed { color: var(--bad); border-color: #ffcecb; background: #ffebe9; }
.pill.skipped, .pill.unknown { color: var(--muted); border-color: var(--line); background: var(--bg); }
.pill.stale { color: var(--warn); border-color: #f5e0a0; background: #fff8c5; margin-left: 6px; }
.sec { color: var(--bad); font-weight: 700; }
.why { color: var(--muted); font-size: 13px; }
details { border: 1px solid var(--line); border-radius: 8px; margin: 10px 0; }
summary { cursor: pointer; padding: 9px 12px; font-weight: 600; }
details table { font-size: 13px; }
tr.security td:first-child { border-left: 3px solid var(--bad); }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
`;

function card(value: number, label: string, tone = ''): string {
  return `<div class="card ${tone}"><b>${value}</b><span>${esc(label)}</span></div>`;
}

function hostRow(host: HostReport, now: Date): string {
  const u = host.updates;
  const security = u?.packages.filter((p) => p.security).length ?? 0;
  const status = `<span class="pill ${host.status}">${esc(host.status)}</span>${host.stale ? '<span class="pill stale" title="updates not listed within the stale threshold">stale</span>' : ''}`;
  const why = host.status === 'ok' ? '' : `<div class="why">${esc(problemText(host))}</div>`;
  const securityCell = !u ? '–' : !u.securityChecked ? '<span title="this package manager gives no security data">?</span>' : security > 0 ? `<span class="sec">${security}</span>` : '0';
  return `<tr${host.stale ? ' class="stale"' : ''}>
<td><b>${esc(host.name)}</b>${why}</td>
<td class="status">${status}</td>
<td>${esc(osText(host) || '–')}${host.discovery ? `<div class="why">${esc(host.discovery.arch)} · kernel ${esc(host.discovery.kernel)}</div>` : ''}</td>
<td>${esc(host.discovery?.packageManager ?? '–')}</td>
<td class="num">${u ? u.packages.length : '–'}</td>
<td class="num">${securityCell}</td>
<td>${u?.rebootRequired ? '<b>yes</b>' : u?.rebootRequired === false ? 'no' : '–'}</td>
<td class="when" title="${esc(host.lastRefresh ?? '')}">${esc(ago(host.lastRefresh, now))}</td>
</tr>`;
}

function hostDetails(host: HostReport): string {
  const packages = [...(host.updates?.packages ?? [])].sort((a, b) => Number(b.security) - Number(a.security) || a.name.localeCompare(b.name));
  if (packages.length === 0) return '';
  const security = packages.filter((p) => p.security).length;
  const rows = packages
    .map(
      (p) =>
        `<tr class="${p.security ? 'security' : ''}"><td><code>${esc(p.name)}</code></td><td><code>${esc(p.currentVersion ?? 'new')}</code></td><td><code>${esc(p.newVersion)}</code></td><td>${esc(p.source ?? '')}</td><td>${p.security ? '<span class="sec">security</span>' : ''}</td></tr>`,
    )
    .join('\n');
  // Short lists with security updates open by themselves; long ones stay folded under their counts.
  return `<details${security > 0 && packages.length <= 25 ? ' open' : ''}><summary>${esc(host.name)}: ${packages.length} updates${security > 0 ? `, <span class="sec">${security} security</span>` : ''}</summary>
<table><thead><tr><th>package</th><th>installed</th><th>new</th><th>source</th><th></th></tr></thead><tbody>
${rows}
</tbody></table></details>`;
}

export function renderHtml(report: FleetReport): string {
  const now = new Date(report.generatedAt);
  const s = report.summary;
  const hours = report.staleAfterSeconds / 3600;
  const details = report.hosts.map(hostDetails).filter(Boolean).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fleet report · ${esc(report.generatedAt.slice(0, 10))}</title>
<style>${CSS}</style>
</head>
<body><main>
<h1>Fleet report</h1>
<p class="meta">Generated ${esc(report.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} · a host is <span class="pill stale">stale</span> when its updates were not listed in the last ${hours} h</p>
<div class="cards">
${card(s.hosts, 'hosts')}
${card(s.ok, 'ok', 'good')}
${card(s.unreachable + s.failed, 'unreachable or failed', s.unreachable + s.failed > 0 ? 'bad' : '')}
${card(s.updates, 'pending updates')}
${card(s.security, 'security updates', s.security > 0 ? 'bad' : '')}
${card(s.rebootRequired, 'need a reboot', s.rebootRequired > 0 ? 'warn' : '')}
${card(s.stale, 'stale hosts', s.stale > 0 ? 'warn' : '')}
</div>
<table>
<thead><tr><th>host</th><th>status</th><th>system</th><th>pkg</th><th>updates</th><th>security</th><th>reboot</th><th>refreshed</th></tr></thead>
<tbody>
${report.hosts.map((host) => hostRow(host, now)).join('\n')}
</tbody>
</table>
${details ? `<h2>Pending updates</h2>\n${details}` : ''}
<footer>fettle fleet report · ${s.hosts} hosts · stale threshold ${hours} h</footer>
</main></body>
</html>
`;
}
