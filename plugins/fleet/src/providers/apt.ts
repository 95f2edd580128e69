import type { PackageUpdate } from '../model.js';
import { lines, parseYesNo, requireSection, type PackageProvider } from './types.js';

// `Inst libssl3 [3.0.11-1~deb12u2] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64]) []`
// The installed version in brackets is absent when the upgrade pulls in a new package.
const INST = /^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) (.*) \[([^\]]+)\]\)/;

/** Parse `apt-get -s dist-upgrade`: one update per `Inst` line. */
export function parseAptSimulation(text: string): PackageUpdate[] {
  const updates: PackageUpdate[] = [];
  for (const line of lines(text)) {
    const match = INST.exec(line);
    if (!match) continue;
    const [, name = '', current, version = '', originText = '', arch = ''] = match;
    // `Debian:12.5/stable, Debian-Security:12/stable-security`: origin:version/suite, comma separated.
    const origins = originText.split(', ').filter((origin) => origin !== '');
    const securityOrigin = origins.find(isSecurityOrigin);
    updates.push({
      name,
      arch: arch || null,
      currentVersion: current ?? null,
      newVersion: version,
      source: securityOrigin ?? origins[0] ?? null,
      security: securityOrigin !== undefined,
    });
  }
  return updates;
}

/** Debian's `Debian-Security:12/stable-security`, Ubuntu's `jammy-security`, ESM's `jammy-apps-security`. */
function isSecurityOrigin(origin: string): boolean {
  return /-security/i.test(origin);
}

/**
 * `apt-get update`, retried for up to 5 minutes while another apt run (unattended-upgrades,
 * a second fettle) holds the lists lock: apt 2.x waits for the dpkg lock
 * (DPkg::Lock::Timeout) but not for that one. Other failures are reported at once.
 */
const APT_UPDATE = String.raw`n=0
while :; do
  out=$(apt-get -q update -o DPkg::Lock::Timeout=300 2>&1); rc=$?
  case "$rc:$out" in
    0:*) printf '%s\n' "$out"; exit 0 ;;
    *"Could not get lock"*) ;;
    *) printf '%s\n' "$out" >&2; exit $rc ;;
  esac
  n=$((n + 1)); if [ $n -ge 60 ]; then printf '%s\n' "$out" >&2; exit $rc; fi
  sleep 5
done`;

export const aptProvider: PackageProvider = {
  name: 'apt',
  description: 'Debian, Ubuntu and derivatives (apt-get)',
  detect: (probe) => probe.commands.has('apt-get'),
  updateSections: () => [
    // Simulation needs no root; NoLocking lets it run while another apt holds the lock.
    { name: 'upgrades', command: 'apt-get -s -q -o Debug::NoLocking=1 dist-upgrade' },
    { name: 'reboot', command: 'if [ -f /var/run/reboot-required ]; then echo yes; else echo no; fi' },
  ],
  parseUpdates(sections) {
    const upgrades = requireSection(sections, 'upgrades');
    return { packages: parseAptSimulation(upgrades.stdout), rebootRequired: parseYesNo(sections.get('reboot')), securityChecked: true, warnings: [] };
  },
  syncSections: () => [{ name: 'sync', command: APT_UPDATE, root: true }],
};
