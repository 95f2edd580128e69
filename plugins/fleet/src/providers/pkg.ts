import type { PackageUpdate } from '../model.js';
import type { SectionResult } from '../script.js';
import { lines, requireSection, type PackageProvider } from './types.js';

/** `curl-8.4.0` → name and version: pkg versions never contain a dash, names may. */
function splitPkgName(nameVersion: string): { name: string; version: string } {
  const dash = nameVersion.lastIndexOf('-');
  return dash <= 0 ? { name: nameVersion, version: '' } : { name: nameVersion.slice(0, dash), version: nameVersion.slice(dash + 1) };
}

/**
 * Parse `pkg version -vRL=`: `curl-8.4.0    <   needs updating (remote has 8.5.0)`.
 * Only `<` lines are updates (`>` succeeds the catalogue, `?` orphaned, `!` unknown).
 */
export function parsePkgVersion(text: string, vulnerable: ReadonlySet<string> = new Set()): PackageUpdate[] {
  const updates: PackageUpdate[] = [];
  for (const line of lines(text)) {
    const match = /^(\S+)\s+<\s+needs updating \((\w+) has ([^)]+)\)/.exec(line);
    if (!match) continue;
    const [, nameVersion = '', where = '', version = ''] = match;
    const { name, version: current } = splitPkgName(nameVersion);
    updates.push({ name, arch: null, currentVersion: current, newVersion: version, source: where, security: vulnerable.has(nameVersion) });
  }
  return updates;
}

/** Parse `pkg audit -q`: one vulnerable `name-version` per line. */
export function parsePkgAudit(text: string): Set<string> {
  return new Set(lines(text).filter((line) => /^\S+-\S+$/.test(line)));
}

/** `freebsd-version -k` (installed kernel) then `uname -r` (running one): a reboot is due when they differ. */
export function parseFreebsdReboot(result: SectionResult | undefined): boolean | null {
  const [installed, running] = lines(result?.stdout ?? '');
  if (result?.code !== 0 || !installed || !running) return null;
  return installed !== running;
}

export const pkgProvider: PackageProvider = {
  name: 'pkg',
  description: 'FreeBSD (pkg; security from pkg audit)',
  detect: (probe) => probe.kernelName === 'FreeBSD' && probe.commands.has('pkg'),
  updateSections: () => [
    { name: 'upgrades', command: 'pkg version -vRL=' },
    // Exit 1 means "vulnerable packages found"; a missing vuln.xml also exits 1, with stderr.
    { name: 'audit', command: 'pkg audit -q' },
    { name: 'reboot', command: 'freebsd-version -k && uname -r' },
  ],
  parseUpdates(sections) {
    const upgrades = requireSection(sections, 'upgrades');
    const audit = sections.get('audit');
    const securityChecked = audit !== undefined && (audit.code === 0 || (audit.code === 1 && audit.stderr.trim() === ''));
    const warnings = securityChecked ? [] : [`pkg audit failed: security updates are not marked (${audit?.stderr.trim() || 'no output'}); sync-repos fetches vuln.xml`];
    return {
      packages: parsePkgVersion(upgrades.stdout, securityChecked ? parsePkgAudit(audit.stdout) : new Set()),
      rebootRequired: parseFreebsdReboot(sections.get('reboot')),
      securityChecked,
      warnings,
    };
  },
  syncSections: () => [
    { name: 'sync', command: 'pkg update -q', root: true },
    // Also fetch the vulnerability database pkg audit reads; exit 1 only means vulnerable packages exist.
    { name: 'audit-db', command: 'pkg audit -qF; rc=$?; [ $rc -eq 1 ] && rc=0; (exit $rc)', root: true },
  ],
};
