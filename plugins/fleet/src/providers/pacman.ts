import type { PackageUpdate } from '../model.js';
import { kernelModulesRebootSection, lines, parseYesNo, requireSection, type PackageProvider } from './types.js';

/** Parse `checkupdates` or `pacman -Qu`: `name old -> new`, possibly ` [ignored]`. */
export function parsePacmanUpdates(text: string, vulnerable: ReadonlySet<string> = new Set()): PackageUpdate[] {
  const updates: PackageUpdate[] = [];
  for (const line of lines(text)) {
    const match = /^(\S+) (\S+) -> (\S+)(?: \[ignored\])?$/.exec(line);
    if (!match) continue;
    const [, name = '', current = '', version = ''] = match;
    updates.push({ name, arch: null, currentVersion: current, newVersion: version, source: null, security: vulnerable.has(name) });
  }
  return updates;
}

/** Parse `arch-audit -u --format '%n'` (names; `name>=fixed` from `--quiet` is read too). */
export function parseArchAudit(text: string): Set<string> {
  return new Set(lines(text).map((line) => line.replace(/>=.*$/, '')));
}

export const pacmanProvider: PackageProvider = {
  name: 'pacman',
  description: 'Arch Linux and derivatives (pacman; checkupdates and arch-audit when installed)',
  detect: (probe) => probe.commands.has('pacman'),
  updateSections: () => [
    // checkupdates (pacman-contrib) syncs a private copy of the databases, so it needs no root
    // and leaves no partial upgrade behind; pacman -Qu only reads the local databases.
    // The first line says which one ran, since their exit codes differ.
    {
      name: 'upgrades',
      command:
        'if command -v checkupdates >/dev/null 2>&1; then echo tool=checkupdates; checkupdates; rc=$?; [ $rc -eq 2 ] && rc=0; (exit $rc); ' +
        'else echo tool=pacman; pacman -Qu; rc=$?; [ $rc -eq 1 ] && rc=0; (exit $rc); fi',
    },
    // arch-audit lists installed packages with known vulnerabilities a pending upgrade fixes.
    { name: 'audit', command: "if command -v arch-audit >/dev/null 2>&1; then arch-audit --upgradable --format '%n'; else echo no-arch-audit; fi" },
    kernelModulesRebootSection,
  ],
  parseUpdates(sections) {
    const upgrades = requireSection(sections, 'upgrades');
    const audit = sections.get('audit');
    const securityChecked = audit?.code === 0 && !audit.stdout.startsWith('no-arch-audit');
    const vulnerable = parseArchAudit(securityChecked ? audit.stdout : '');
    const warnings = upgrades.stdout.startsWith('tool=pacman') ? ['checkupdates not installed: used pacman -Qu, which is only as fresh as the last sync'] : [];
    return {
      packages: parsePacmanUpdates(upgrades.stdout, vulnerable),
      rebootRequired: parseYesNo(sections.get('reboot')),
      securityChecked,
      warnings,
    };
  },
  // As asked by sync-repos; note that installing after `pacman -Sy` without `-u` risks a partial upgrade.
  syncSections: () => [{ name: 'sync', command: 'pacman -Sy --noconfirm', root: true }],
};
