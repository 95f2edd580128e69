import type { Transport } from '@fettle/core';
import { describeHost } from './discovery.js';
import type { Discovery, HostUpdates } from './model.js';
import { parseProbe, probeSections } from './probe.js';
import { providerNamed } from './providers/index.js';
import type { PackageProvider } from './providers/types.js';
import { buildScript, parseScriptOutput, type Privilege, type Section, type SectionResult } from './script.js';

/**
 * What one fleet operation does on one connected host. Each is one remote command
 * (discovery, updates, sync), plus one for discovery when the cache has none.
 */

export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60 * 1000;

/** Run sections as one remote command through `sh -s` (any login shell, even csh, can start it). */
export async function runSections(
  transport: Transport,
  sections: readonly Section[],
  privilege: Privilege,
  timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
): Promise<Map<string, SectionResult>> {
  const built = buildScript(sections, privilege);
  const result = await transport.exec('/bin/sh -s', { stdin: built.script, timeoutMs });
  if (result.code === null) {
    throw new Error(`the command was killed${result.signal ? ` by ${result.signal}` : ''} (timeout ${Math.round(timeoutMs / 1000)} s?)`);
  }
  return parseScriptOutput(result.stdout.toString('utf8'), result.stderr.toString('utf8'), built.nonce);
}

/** Discovery needs no root, so the privilege does not matter here. */
export async function probeHost(transport: Transport, providers: readonly PackageProvider[], timeoutMs?: number): Promise<Discovery> {
  const sections = await runSections(transport, probeSections(), { uid: -1, policy: 'skip' }, timeoutMs);
  return describeHost(parseProbe(sections), providers);
}

export interface UpdatesOutcome {
  readonly updates: HostUpdates;
  readonly warnings: string[];
}

export async function listHostUpdates(
  transport: Transport,
  provider: PackageProvider,
  privilege: Privilege,
  now: Date,
  timeoutMs?: number,
): Promise<UpdatesOutcome> {
  const sections = await runSections(transport, provider.updateSections(), privilege, timeoutMs);
  const parsed = provider.parseUpdates(sections);
  return {
    updates: { refreshedAt: now.toJSON(), packages: parsed.packages, rebootRequired: parsed.rebootRequired, securityChecked: parsed.securityChecked },
    warnings: parsed.warnings,
  };
}

export type SyncOutcome = { readonly status: 'ok' } | { readonly status: 'skipped'; readonly message: string };

/** Refresh package lists; every sync section needs root, so `skip` without root skips it all. */
export async function syncHostRepos(transport: Transport, provider: PackageProvider, privilege: Privilege, timeoutMs?: number): Promise<SyncOutcome> {
  const wanted = provider.syncSections();
  const sections = await runSections(transport, wanted, privilege, timeoutMs);
  if (wanted.every((section) => sections.get(section.name)?.skipped)) {
    return { status: 'skipped', message: `${provider.name}: refreshing repositories needs root and sudo_policy is skip (set the host var sudo_policy to nopasswd)` };
  }
  for (const section of wanted) {
    const result = sections.get(section.name);
    if (result?.code !== 0) {
      const detail = (result?.stderr.trim() || result?.stdout.trim() || 'no output').split('\n').slice(-3).join(' / ');
      throw new Error(`${provider.name} ${section.name} exited with ${result?.code ?? 'no code'}: ${detail}`);
    }
  }
  return { status: 'ok' };
}

/** The provider a discovered host uses, or the reason there is none. */
export function providerFor(discovery: Discovery, providers: readonly PackageProvider[]): PackageProvider | string {
  const provider = providerNamed(discovery.packageManager, providers);
  if (provider) return provider;
  return `no supported package manager on ${discovery.name ?? discovery.os} (supported: ${providers.map((p) => p.name).join(', ')})`;
}
