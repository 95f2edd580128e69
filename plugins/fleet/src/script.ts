import { randomBytes } from 'node:crypto';
import { shellQuote } from '@fettle/core';

/**
 * Several shell commands sent as ONE remote command: each section's stdout and
 * stderr are framed by markers carrying a per-script nonce, and its exit code is
 * recorded, so one round trip answers what would otherwise take several.
 */

/** One command of a batched script. */
export interface Section {
  readonly name: string;
  readonly command: string;
  /** Needs root: wrapped in `sudo -n` or skipped, depending on the host's sudo policy. */
  readonly root?: boolean | undefined;
}

export interface SectionResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; null when the section was skipped or its output was cut off. */
  readonly code: number | null;
  readonly skipped: boolean;
}

export type SudoPolicy = 'skip' | 'nopasswd';

/** How commands that need root run on one host. */
export interface Privilege {
  readonly uid: number;
  readonly policy: SudoPolicy;
}

export interface BuiltScript {
  readonly script: string;
  readonly nonce: string;
  /** Sections that were not included because they need root the policy does not grant. */
  readonly skipped: readonly string[];
}

/** Build a POSIX sh script for `sh -s`; every section reads /dev/null, not the script. */
export function buildScript(sections: readonly Section[], privilege: Privilege, nonce = randomBytes(6).toString('hex')): BuiltScript {
  const lines = ['LC_ALL=C; LANG=C; export LC_ALL LANG'];
  const skipped: string[] = [];
  for (const section of sections) {
    if (!/^[\w.-]+$/.test(section.name)) throw new Error(`bad section name '${section.name}'`);
    const tag = `@@fleet-${nonce}`;
    if (section.root && privilege.uid !== 0 && privilege.policy === 'skip') {
      skipped.push(section.name);
      lines.push(`printf '\\n${tag} skip ${section.name}\\n'`);
      continue;
    }
    // A subshell, so a section's `exit` ends that section, not the script.
    const command =
      section.root && privilege.uid !== 0 ? `sudo -n env LC_ALL=C LANG=C sh -c ${shellQuote(section.command)}` : `( ${section.command}\n)`;
    lines.push(
      `printf '\\n${tag} begin ${section.name}\\n'; printf '\\n${tag} begin ${section.name}\\n' >&2`,
      `${command} </dev/null`,
      `rc=$?; printf '\\n${tag} end ${section.name} %s\\n' "$rc"; printf '\\n${tag} end ${section.name}\\n' >&2`,
    );
  }
  return { script: `${lines.join('\n')}\n`, nonce, skipped };
}

/** Split a script's stdout and stderr back into sections. */
export function parseScriptOutput(stdout: string, stderr: string, nonce: string): Map<string, SectionResult> {
  const out = frames(stdout, nonce);
  const err = frames(stderr, nonce);
  const results = new Map<string, SectionResult>();
  for (const [name, frame] of out) {
    results.set(name, { stdout: frame.text, stderr: err.get(name)?.text ?? '', code: frame.code, skipped: frame.skipped });
  }
  return results;
}

interface Frame {
  text: string;
  code: number | null;
  skipped: boolean;
}

function frames(text: string, nonce: string): Map<string, Frame> {
  const tag = `@@fleet-${nonce} `;
  const result = new Map<string, Frame>();
  let current: { name: string; lines: string[] } | undefined;
  const close = (code: number | null): void => {
    if (!current) return;
    const body = current.lines.join('\n');
    result.set(current.name, { text: body, code, skipped: false });
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith(tag)) {
      const [kind, name = '', code] = line.slice(tag.length).split(' ');
      if (kind === 'begin') {
        close(null);
        current = { name, lines: [] };
      } else if (kind === 'end' && current?.name === name) {
        // The end marker starts with a newline of its own: drop the empty line it
        // makes after output that ended with one. (stderr end markers carry no code.)
        const last = current.lines.pop();
        if (last !== undefined && last !== '') current.lines.push(last);
        close(code === undefined ? null : Number(code));
      } else if (kind === 'skip') {
        close(null);
        result.set(name, { text: '', code: null, skipped: true });
      }
      continue;
    }
    current?.lines.push(line);
  }
  close(null); // output cut off (connection lost, timeout): keep what arrived, with no code
  return result;
}

/** Read a host's `sudo_policy` var; `skip` unless it says `nopasswd`. */
export function sudoPolicyOf(vars: Readonly<Record<string, unknown>>): SudoPolicy {
  const value = vars['sudo_policy'];
  if (value === undefined || value === null || value === 'skip') return 'skip';
  if (value === 'nopasswd') return 'nopasswd';
  throw new Error(`host var sudo_policy must be 'skip' or 'nopasswd', not ${JSON.stringify(value)}`);
}
