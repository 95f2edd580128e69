import type { PackageUpdate } from '../model.js';
import type { Probe } from '../probe.js';
import type { Section, SectionResult } from '../script.js';

/** What a provider's parser makes of its update sections. */
export interface ParsedUpdates {
  readonly packages: PackageUpdate[];
  readonly rebootRequired: boolean | null;
  /** False when the host offers no security data, so "0 security" would be a guess. */
  readonly securityChecked: boolean;
  readonly warnings: string[];
}

export type SectionMap = ReadonlyMap<string, SectionResult>;

/**
 * A package manager: whether it applies to a probed host, the commands that list
 * pending updates and refresh repositories, and the parser of their output. Plain
 * data in, plain data out, so parsers are tested on recorded outputs.
 */
export interface PackageProvider {
  readonly name: string;
  readonly description: string;
  detect(probe: Probe): boolean;
  /** Sections run in one command to list pending updates (none should need root). */
  updateSections(): Section[];
  /** Throws an Error naming the failing command when the output is unusable. */
  parseUpdates(sections: SectionMap): ParsedUpdates;
  /** Sections that refresh the package lists (`apt-get update`, …); they need root. */
  syncSections(): Section[];
}

/** A section that must have run and exited with one of `codes`. */
export function requireSection(sections: SectionMap, name: string, codes: readonly number[] = [0]): SectionResult {
  const result = sections.get(name);
  if (!result) throw new Error(`${name}: no output (the command was cut off)`);
  if (result.skipped) throw new Error(`${name}: skipped`);
  if (result.code === null || !codes.includes(result.code)) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new Error(`${name} exited with ${result.code ?? 'no code'}${detail ? `: ${detail}` : ''}`);
  }
  return result;
}

/** Lines with content, trimmed. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Reboot needed when the running kernel's module folder is gone (the package
 * manager removed it while installing a newer kernel). Null without modules at all,
 * as in containers.
 */
export const kernelModulesRebootSection: Section = {
  name: 'reboot',
  command:
    'd=/lib/modules; [ -d /usr/lib/modules ] && d=/usr/lib/modules; ' +
    'if [ -n "$(ls "$d" 2>/dev/null)" ]; then if [ -d "$d/$(uname -r)" ]; then echo no; else echo yes; fi; else echo unknown; fi',
};

export function parseYesNo(result: SectionResult | undefined): boolean | null {
  const answer = result?.stdout.trim().split('\n')[0];
  return answer === 'yes' ? true : answer === 'no' ? false : null;
}
