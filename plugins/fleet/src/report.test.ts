import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyEntry, type CacheEntry } from './cache.js';
import { discover, listUpdates } from './fleet.js';
import { renderMarkdown, renderText } from './format.js';
import { renderHtml } from './html.js';
import { fleetReportJsonSchema, fleetReportSchema, type FleetReport } from './model.js';
import { fleetReport, hostReport, cachedOutcome } from './summary.js';
import { checkJsonSchema, faultyConnect, host, registryConnect } from './test-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fettle-fleet-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schemaFile = JSON.parse(readFileSync(new URL('../schema/fleet-report.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const NOW = new Date('2026-05-04T10:00:00.000Z');
const hoursAgo = (h: number): string => new Date(NOW.getTime() - h * 3600_000).toJSON();

/** A report over hand-made cache entries: every status, a stale host, HTML in a name. */
export function sampleReport(): FleetReport {
  const debian = { os: 'linux', flavor: 'debian', version: '12', name: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-18-amd64', arch: 'x86_64', packageManager: 'apt', uid: 0, sudo: true, discoveredAt: hoursAgo(2) };
  const entries: Record<string, CacheEntry | undefined> = {
    web1: {
      ...emptyEntry(),
      online: true,
      lastSeen: hoursAgo(2),
      lastAttempt: hoursAgo(2),
      discovery: debian,
      updates: {
        refreshedAt: hoursAgo(2),
        rebootRequired: true,
        securityChecked: true,
        packages: [
          { name: 'libssl3', arch: 'amd64', currentVersion: '3.0.11-1~deb12u2', newVersion: '3.0.13-1~deb12u1', source: 'Debian-Security:12/stable-security', security: true },
          { name: 'bash', arch: 'amd64', currentVersion: '5.2.15-2+b2', newVersion: '5.2.15-2+b7', source: 'Debian:12.5/stable', security: false },
        ],
      },
    },
    'old<b>': {
      ...emptyEntry(),
      online: true,
      lastSeen: hoursAgo(50),
      lastAttempt: hoursAgo(50),
      discovery: { ...debian, name: 'Alpine Linux v3.19', flavor: 'alpine', packageManager: 'apk', discoveredAt: hoursAgo(50) },
      updates: { refreshedAt: hoursAgo(50), rebootRequired: null, securityChecked: false, packages: [{ name: 'busybox', arch: null, currentVersion: '1.36.1-r2', newVersion: '1.36.1-r5', source: null, security: false }] },
    },
    db1: { ...emptyEntry(), online: false, lastAttempt: hoursAgo(1), lastError: { status: 'unreachable', reason: 'auth', message: 'db1: all keys refused', at: hoursAgo(1) } },
    new1: undefined,
  };
  const hosts = Object.entries(entries).map(([name, entry]) => hostReport(name, entry, cachedOutcome(entry), NOW, 24 * 3600_000));
  return fleetReport('report', hosts, NOW, 24 * 3600_000);
}

describe('the published JSON Schema', () => {
  it('is the one generated from the zod schema (rebuild writes it: pnpm --filter @fettle/fleet build)', () => {
    expect(schemaFile).toEqual(JSON.parse(JSON.stringify(fleetReportJsonSchema())));
  });

  it('describes real --json output of discover and updates, and rejects what it should', async () => {
    const cachePath = path.join(dir, 'state.json');
    const connect = faultyConnect(registryConnect(), { dead: 'refused' });
    const options = { hosts: [host('local1'), host('dead')], connect, cachePath };
    const reports = [await discover(options), await listUpdates(options), sampleReport()];
    for (const report of reports) {
      const json = JSON.parse(JSON.stringify(report)) as unknown;
      expect(checkJsonSchema(schemaFile, json)).toEqual([]);
      expect(fleetReportSchema.safeParse(json).success).toBe(true);
    }
    // The checker is not a rubber stamp.
    const broken = JSON.parse(JSON.stringify(reports[1])) as { hosts: { status: string; updates: unknown }[]; extra?: number };
    broken.extra = 1;
    if (broken.hosts[0]) broken.hosts[0].status = 'fine';
    expect(checkJsonSchema(schemaFile, broken)).toEqual(['$.hosts[0].status: not one of ["ok","unreachable","failed","skipped","unknown"]', '$: unexpected property extra']);
  });
});

describe('report formats', () => {
  const report = sampleReport();

  it('counts per host and overall, with stale and never-contacted hosts marked', () => {
    expect(report.summary).toEqual({ hosts: 4, ok: 2, unreachable: 1, failed: 0, skipped: 0, unknown: 1, stale: 3, updates: 3, security: 1, rebootRequired: 1 });
    const text = renderText(report);
    expect(text).toMatch(/^web1\s+ok\s+Debian GNU\/Linux 12 \(bookworm\)\s+apt\s+2\s+1\s+yes\s+2 h ago\s*$/m);
    expect(text).toMatch(/^old<b>\s+ok\s+Alpine Linux v3.19\s+apk\s+1\s+\?\s+-\s+2 d ago\s+STALE$/m);
    expect(text).toMatch(/^db1\s+unreachable \(auth\).*never\s+STALE$/m);
    expect(text).toContain('db1: authentication failed: db1: all keys refused');
  });

  it('markdown: a table and the security updates per host', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('| web1 | ok | Debian GNU/Linux 12 (bookworm) | apt | 2 | 1 | yes | 2 h ago |  |');
    expect(md).toContain('| old\\<b\\> |');
    expect(md).toContain('### web1\n\n| package | installed | new | source |');
    expect(md).toContain('| libssl3 | 3.0.11-1~deb12u2 | 3.0.13-1~deb12u1 | Debian-Security:12/stable-security |');
    expect(md).not.toContain('| bash |');
  });

  it('html: one self-contained page, values escaped, stale hosts and security counts visible', () => {
    const html = renderHtml(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
    expect(html).toContain('old&lt;b&gt;');
    expect(html).not.toContain('old<b>');
    expect(html.match(/class="pill stale"/g)).toHaveLength(4); // 3 stale hosts + the legend
    expect(html.match(/<tr class="stale">/g)).toHaveLength(3);
    expect(html).toContain('<span class="sec">1</span>');
    expect(html).toContain('authentication failed: db1: all keys refused');
    expect(html).toContain('<summary>web1: 2 updates, <span class="sec">1 security</span></summary>');
  });
});
