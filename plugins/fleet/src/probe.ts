import type { Section, SectionResult } from './script.js';

/** Binaries whose presence tells which package manager a host has. */
export const PROBED_COMMANDS = ['apt-get', 'dnf', 'yum', 'apk', 'pacman', 'pkg', 'sudo'] as const;

/** What the single discovery command learns: the raw facts providers `detect()` from. */
export interface Probe {
  /** uname -s, as printed (Linux, FreeBSD). */
  readonly kernelName: string;
  readonly kernelRelease: string;
  readonly machine: string;
  /** /etc/os-release as key → value (quotes removed); empty when the file is absent. */
  readonly osRelease: Readonly<Record<string, string>>;
  /** Basenames of the probed commands that exist on the host. */
  readonly commands: ReadonlySet<string>;
  readonly uid: number;
}

/** The sections of the one discovery command. */
export function probeSections(): Section[] {
  const loop = PROBED_COMMANDS.join(' ');
  return [
    { name: 'uname', command: 'uname -s; uname -r; uname -m' },
    // FreeBSD keeps it in /etc/os-release too (since 13); /usr/lib is the systemd fallback.
    { name: 'os-release', command: 'cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true' },
    // One name per `command -v`: POSIX only promises a single operand.
    { name: 'commands', command: `for c in ${loop}; do command -v "$c" || true; done` },
    { name: 'id', command: 'id -u' },
  ];
}

/** Parse os-release text (shell-style assignments, values optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    let value = match[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    result[match[1]] = value;
  }
  return result;
}

/** Turn the discovery sections into a Probe; throws when the host's answer is unusable. */
export function parseProbe(sections: ReadonlyMap<string, SectionResult>): Probe {
  const uname = sections.get('uname');
  const [kernelName, kernelRelease, machine] = (uname?.stdout ?? '').split('\n').map((line) => line.trim());
  if (!kernelName || !kernelRelease || !machine || uname?.code !== 0) {
    throw new Error(`discovery: uname gave no answer${uname?.stderr ? ` (${uname.stderr.trim()})` : ''}`);
  }
  const commands = new Set<string>();
  for (const line of (sections.get('commands')?.stdout ?? '').split('\n')) {
    const name = line.trim().split('/').pop();
    if (name && (PROBED_COMMANDS as readonly string[]).includes(name)) commands.add(name);
  }
  const uid = Number((sections.get('id')?.stdout ?? '').trim());
  if (!Number.isInteger(uid)) throw new Error('discovery: id -u gave no number');
  return { kernelName, kernelRelease, machine, osRelease: parseOsRelease(sections.get('os-release')?.stdout ?? ''), commands, uid };
}
