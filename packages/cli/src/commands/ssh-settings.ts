import { FettleError, resolveTransport, type Host, type TransportDescription } from '@fettle/core/engine';
import pc from 'picocolors';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';

interface Described {
  readonly host: string;
  readonly transport: string;
  readonly description: TransportDescription;
}

/**
 * `fettle hosts [SELECTOR] --ssh`: the settings the host's transport will use, for
 * the host and each jump hop, one `keyword value` per line in `ssh -G`'s spelling, so
 * they can be laid beside the user's own `ssh -G`. Nothing is contacted.
 */
export async function sshSettingsCommand(site: LoadedSite, out: Output, selector: string | undefined): Promise<number> {
  const hosts = await site.select(selector);
  const described: Described[] = [];
  for (const host of hosts) described.push(await describeHost(site, host));
  if (out.json) {
    out.document({
      hosts: described.map(({ host, transport, description }) => ({
        host,
        transport,
        hops: description.hops.map((hop) => ({ name: hop.name, settings: groupSettings(hop.settings) })),
        warnings: description.warnings,
      })),
    });
    return 0;
  }
  for (const [index, { host, transport, description }] of described.entries()) {
    if (index > 0) out.line();
    for (const [hopIndex, hop] of description.hops.entries()) {
      const last = hopIndex === description.hops.length - 1;
      out.line(pc.dim(last ? `# ${host} (${transport} transport${hop.name === host ? '' : `, as ${hop.name}`})` : `# ${host}: jump host ${hopIndex + 1}, ${hop.name}`));
      for (const [keyword, value] of hop.settings) out.line(`${keyword} ${value}`);
    }
    for (const warning of description.warnings) out.error(`warning: ${host}: ${warning}`);
  }
  return 0;
}

async function describeHost(site: LoadedSite, host: Host): Promise<Described> {
  const { transport, transportOptions } = resolveTransport(site.registry, host);
  if (!transport.describe) {
    throw new FettleError('E_ARGUMENT', `the ${transport.name} transport of host ${host.name} has no SSH settings to show`, { hint: '--ssh works with the ssh and openssh transports' });
  }
  try {
    const warnings: string[] = [];
    const description = await transport.describe(host, transportOptions, { siteDir: site.dir, warn: (message) => warnings.push(message) });
    return { host: host.name, transport: transport.name, description: { hops: description.hops, warnings: [...description.warnings, ...warnings] } };
  } catch (error) {
    if (error instanceof FettleError) throw error;
    throw new FettleError('E_INVENTORY', error instanceof Error ? error.message : String(error), { where: `host ${host.name}`, cause: error });
  }
}

/** `[[k, v], [k, w]]` → `{ k: [v, w] }`: a keyword may repeat (identityfile). */
function groupSettings(settings: readonly (readonly [string, string])[]): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const [keyword, value] of settings) (grouped[keyword] ??= []).push(value);
  return grouped;
}
