import type { PackageUpdate } from '../model.js';
import { kernelModulesRebootSection, lines, parseYesNo, requireSection, type PackageProvider } from './types.js';

// `busybox-1.36.1-r2                       < 1.36.1-r5`: installed name-version, then the available version.
const LINE = /^(.+?)-(\d[^\s-]*-r\d+)\s+<\s+(\S+)/;

/** Parse `apk version -l '<'` (the `Installed: Available:` header is skipped). */
export function parseApkVersion(text: string): PackageUpdate[] {
  const updates: PackageUpdate[] = [];
  for (const line of lines(text)) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, name = '', current = '', version = ''] = match;
    // apk names neither the repository nor security fixes.
    updates.push({ name, arch: null, currentVersion: current, newVersion: version, source: null, security: false });
  }
  return updates;
}

export const apkProvider: PackageProvider = {
  name: 'apk',
  description: 'Alpine Linux (apk); apk has no security metadata',
  detect: (probe) => probe.commands.has('apk'),
  updateSections: () => [{ name: 'upgrades', command: "apk version -l '<'" }, kernelModulesRebootSection],
  parseUpdates(sections) {
    const upgrades = requireSection(sections, 'upgrades');
    return { packages: parseApkVersion(upgrades.stdout), rebootRequired: parseYesNo(sections.get('reboot')), securityChecked: false, warnings: [] };
  },
  syncSections: () => [{ name: 'sync', command: 'apk update -q', root: true }],
};
