import type { PackageUpdate } from '../model.js';
import type { SectionResult } from '../script.js';
import { lines, requireSection, type PackageProvider } from './types.js';

const ARCH = /\.(x86_64|noarch|i686|i386|aarch64|armv7hl|ppc64le|s390x|src)$/;

/** `openssl-libs.x86_64` → name and arch. */
function splitArch(nameArch: string): { name: string; arch: string | null } {
  const match = ARCH.exec(nameArch);
  return match ? { name: nameArch.slice(0, match.index), arch: match[1] ?? null } : { name: nameArch, arch: null };
}

/**
 * Parse `dnf check-update` (and `yum check-update`): `name.arch  version  repo`
 * columns. A long name wraps its version and repo onto the next line, so the
 * words are read in threes rather than line by line.
 */
export function parseDnfCheckUpdate(text: string): { nameArch: string; version: string; repo: string }[] {
  const words: string[] = [];
  for (const line of lines(text)) {
    // Obsoletes come after the updates, and are listed again as updates.
    if (/^Obsoleting Packages/i.test(line)) break;
    // dnf's notes (`Last metadata expiration check: …`, `Security: kernel-… is an installed security update`).
    if (/^(Last metadata|Security:|Loaded plugins|Loading mirror|\s*\*)/.test(line)) continue;
    words.push(...line.split(/\s+/));
  }
  const rows: { nameArch: string; version: string; repo: string }[] = [];
  for (let i = 0; i + 2 < words.length; i += 3) {
    rows.push({ nameArch: words[i] ?? '', version: words[i + 1] ?? '', repo: words[i + 2] ?? '' });
  }
  return rows;
}

/**
 * Parse `dnf updateinfo list --security` (dnf 4 and yum: `ADVISORY  Severity/Sec.  NEVRA`;
 * dnf 5 adds type, severity and date columns): the names (and name.arch) of
 * packages whose pending version fixes a security advisory.
 */
export function parseDnfSecurity(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of lines(text)) {
    for (const word of line.split(/\s+/)) {
      // A NEVRA: name-[epoch:]version-release.arch
      const match = /^(.+)-(?:\d+:)?[^-]+-[^-]+\.([a-z0-9_]+)$/.exec(word);
      if (!match?.[1] || !ARCH.test(word)) continue;
      names.add(match[1]);
      names.add(`${match[1]}.${match[2] ?? ''}`);
    }
  }
  return names;
}

/** Parse `rpm -qa --qf '%{NAME}.%{ARCH} %{EPOCH}:%{VERSION}-%{RELEASE}\n'`; the last of a slotted package (kernel) wins. */
export function parseRpmInstalled(text: string): Map<string, string> {
  const installed = new Map<string, string>();
  for (const line of lines(text)) {
    const [nameArch, evr] = line.split(/\s+/);
    if (!nameArch || !evr) continue;
    installed.set(nameArch, evr.replace(/^(\(none\)|0):/, ''));
  }
  return installed;
}

/** `needs-restarting -r`: exit 1 and "Reboot is required" when core packages changed since boot. */
export function parseNeedsRestarting(result: SectionResult | undefined): boolean | null {
  const text = result?.stdout ?? '';
  if (/reboot is required/i.test(text)) return true;
  if (/reboot should not be necessary/i.test(text)) return false;
  return null;
}

export function dnfUpdates(check: string, security: string, installed: string): PackageUpdate[] {
  const securityNames = parseDnfSecurity(security);
  const versions = parseRpmInstalled(installed);
  return parseDnfCheckUpdate(check).map((row) => {
    const { name, arch } = splitArch(row.nameArch);
    return {
      name,
      arch,
      currentVersion: versions.get(row.nameArch) ?? null,
      newVersion: row.version,
      source: row.repo,
      security: securityNames.has(row.nameArch) || securityNames.has(name),
    };
  });
}

function rpmProvider(binary: 'dnf' | 'yum'): PackageProvider {
  return {
    name: binary,
    description: binary === 'dnf' ? 'Fedora, RHEL 8+ and derivatives (dnf)' : 'RHEL/CentOS 7 and older (yum)',
    detect: (probe) => probe.commands.has(binary) && (binary === 'dnf' || !probe.commands.has('dnf')),
    updateSections: () => [
      // Exit 100 means "updates available", not failure.
      { name: 'check', command: `${binary} -q check-update` },
      // yum spells the filter as a word, dnf as a flag.
      { name: 'security', command: binary === 'dnf' ? 'dnf -q updateinfo list --security' : 'yum -q updateinfo list security' },
      { name: 'installed', command: "rpm -qa --qf '%{NAME}.%{ARCH} %{EPOCH}:%{VERSION}-%{RELEASE}\\n'" },
      {
        name: 'reboot',
        command: `if command -v needs-restarting >/dev/null 2>&1; then needs-restarting -r; else ${binary} -q needs-restarting -r; fi 2>&1`,
      },
    ],
    parseUpdates(sections) {
      const check = requireSection(sections, 'check', [0, 100]);
      const installed = requireSection(sections, 'installed');
      const security = sections.get('security');
      const warnings: string[] = [];
      const securityChecked = security?.code === 0;
      if (!securityChecked) warnings.push(`${binary} updateinfo failed: security updates are not marked (${security?.stderr.trim() || 'no output'})`);
      return {
        packages: dnfUpdates(check.stdout, securityChecked ? security.stdout : '', installed.stdout),
        rebootRequired: parseNeedsRestarting(sections.get('reboot')),
        securityChecked,
        warnings,
      };
    },
    syncSections: () => [{ name: 'sync', command: binary === 'dnf' ? 'dnf -q -y makecache --refresh' : 'yum -q -y makecache fast', root: true }],
  };
}

export const dnfProvider = rpmProvider('dnf');
export const yumProvider = rpmProvider('yum');
