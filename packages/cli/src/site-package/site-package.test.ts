import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registryAccess } from './npmrc.js';
import { prometheusText, type PullReport } from './reports.js';
import { satisfies } from './version.js';
import { timerItems } from './timer.js';

describe('satisfies (the npm range forms pull accepts)', () => {
  it.each([
    ['1.0.5', '^1.0.0', true],
    ['2.0.0', '^1.0.0', false],
    ['0.2.9', '^0.2.1', true],
    ['0.3.0', '^0.2.1', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['1.9.1796086000', '1.x', true],
    ['1.9.0', '1.9', true],
    ['1.10.0', '1.9', false],
    ['3.0.0', '*', true],
    ['1.5.0', '>=1.2.0 <2', true],
    ['2.5.0', '>=1.2.0 <2', false],
    ['2.5.0', '^1.0.0 || ^2.0.0', true],
    ['1.0.0-rc.1', '^1.0.0', false],
    ['1.0.0-rc.1', '1.0.0-rc.1', true],
  ])('%s in %s: %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });
});

describe('registryAccess (npm config as npm reads it)', () => {
  const dirs: string[] = [];
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('takes the scope registry, and the token of the longest matching //host/path/ key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fettle-npmrc-'));
    dirs.push(dir);
    const rc = path.join(dir, 'npmrc');
    writeFileSync(rc, 'registry=https://registry.example.org/\n@acme:registry=http://127.0.0.1:4873/sub\n//127.0.0.1:4873/:_authToken=wrong\n//127.0.0.1:4873/sub/:_authToken=${ACME_TOKEN}\n');
    delete process.env['npm_config_registry'];
    delete process.env['NPM_CONFIG_REGISTRY'];
    process.env['npm_config_userconfig'] = rc;
    process.env['ACME_TOKEN'] = 'tok-123';
    expect(registryAccess('@acme/site')).toEqual({ url: 'http://127.0.0.1:4873/sub/', token: 'tok-123' });
    expect(registryAccess('plain-site')).toEqual({ url: 'https://registry.example.org/', token: undefined });
    expect(registryAccess('plain-site', { registry: 'http://127.0.0.1:4873' }).url).toBe('http://127.0.0.1:4873/');
  });
});

describe('prometheusText', () => {
  it('escapes label values and names every family with HELP and TYPE', () => {
    const report: PullReport = {
      format: 'fettle-pull-report-1',
      site: 'we"ird\\site',
      node: 'n1',
      version: '1.0.5',
      startedAt: '2026-12-01T00:00:00.000Z',
      finishedAt: '2026-12-01T00:00:10.000Z',
      success: true,
      summary: { changed: 1, ok: 2, failed: 0, skipped: 0 },
      registry: { url: 'http://x/', requests: 2, bytes: 10 },
    };
    const text = prometheusText(report, new Date('2026-12-01T00:00:11Z'));
    expect(text).toContain('fettle_site_version_info{site="we\\"ird\\\\site",version="1.0.5"} 1\n');
    expect(text).toContain(`fettle_last_run_timestamp_seconds{site="we\\"ird\\\\site"} ${Date.parse('2026-12-01T00:00:10Z') / 1000}\n`);
    expect(text.match(/^# TYPE /gm)).toHaveLength(5);
  });
});

describe('timerItems', () => {
  const command = ['/usr/bin/node', '/var/lib/fettle/pull/fettle-pull.mjs', 'pull', 'latest', '--registry', 'http://r.example/%x'];
  it('a cron entry: a random sleep, the pull, no bare % (cron would cut the line there)', () => {
    const { kind, items } = timerItems({ kind: 'cron', randomizedDelaySec: 600, command, root: '/' }, true);
    expect(kind).toBe('cron');
    const content = (items['file:/etc/cron.d/fettle-pull'] as { content: string }).content;
    expect(content).toMatch(/^\*\/15 \* \* \* \* root sleep \$\(shuf -i 0-600 -n 1\) && '\/usr\/bin\/node' /m);
    expect(content.replace(/\\%/g, '')).not.toContain('%');
    expect(timerItems({ kind: 'cron', randomizedDelaySec: 600, command, root: '/' }, false).items).toEqual({ 'file:/etc/cron.d/fettle-pull': { delete: true } });
  });
  it('a systemd timer with RandomizedDelaySec, its ExecStart quoted for systemd', () => {
    const { items } = timerItems({ kind: 'systemd', randomizedDelaySec: 900, command, root: '/' }, true);
    expect((items['file:/etc/systemd/system/fettle-pull.timer'] as { content: string }).content).toMatch(/^RandomizedDelaySec=900$/m);
    expect((items['file:/etc/systemd/system/fettle-pull.service'] as { content: string }).content).toContain('ExecStart="/usr/bin/node" "/var/lib/fettle/pull/fettle-pull.mjs" "pull" "latest" "--registry" "http://r.example/%%x"');
  });
});
