import { buildGraph, buildHostItems, FettleError, type BuiltItem, type ExplainedVar, type Host } from '@fettle/core/engine';
import pc from 'picocolors';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';

/** `fettle hosts [SELECTOR] [--vars]` */
export async function hostsCommand(site: LoadedSite, out: Output, selector: string | undefined, withVars = false): Promise<number> {
  const hosts = await site.select(selector);
  const explain = async (host: Host): Promise<readonly ExplainedVar[]> =>
    site.hosts.explainVars
      ? site.hosts.explainVars(host.name)
      : Object.entries(host.vars).map(([name, value]) => ({ name, value, source: site.hosts.describe, overridden: [] }));
  if (out.json) {
    out.document({ hosts: withVars ? await Promise.all(hosts.map(async (host) => ({ ...host, varOrigins: await explain(host) }))) : hosts });
    return 0;
  }
  const width = Math.max(4, ...hosts.map((host) => host.name.length));
  out.line(pc.dim(`${'host'.padEnd(width)}  transport  address            groups / roles`));
  for (const host of hosts) {
    const address = host.transport === 'local' ? '-' : `${host.user ? `${host.user}@` : ''}${host.address ?? host.name}${host.port ? `:${host.port}` : ''}`;
    out.line(
      `${host.name.padEnd(width)}  ${host.transport.padEnd(9)}  ${address.padEnd(17)}  ${host.groups.join(',') || '-'} / ${host.roles.join(',') || '-'}${host.readonly ? pc.dim('  (readonly)') : ''}`,
    );
    if (!withVars) continue;
    for (const entry of await explain(host)) {
      out.line(`    ${entry.name} = ${JSON.stringify(entry.value)}  ${pc.dim(`(${entry.source})`)}`);
      for (const earlier of entry.overridden) out.line(pc.dim(`        overrides ${JSON.stringify(earlier.value)} (${earlier.source})`));
    }
  }
  return 0;
}

async function findHost(site: LoadedSite, name: string): Promise<Host> {
  const host = (await site.listHosts()).find((candidate) => candidate.name === name);
  if (!host) {
    throw new FettleError('E_SELECTOR', `no host named '${name}'`, {
      where: site.configPath,
      expected: `one of ${(await site.listHosts()).map((h) => h.name).join(', ')}`,
    });
  }
  return host;
}

/** `fettle items HOST`: the items a host gets, with their attributes and dependencies. */
/** An item type may offer `preview(item, { host, siteDir })`: the content it would write (template-eta does). */
type Preview = (item: { id: string; name: string; attrs: unknown }, env: { host: Host; siteDir: string }) => Promise<string>;

/** `fettle items HOST --preview ITEM`: print what the item would write, computed without contacting the host. */
async function previewCommand(site: LoadedSite, out: Output, host: Host, items: readonly BuiltItem[], id: string): Promise<number> {
  const item = items.find((candidate) => candidate.id === id);
  if (!item) throw new FettleError('E_ARGUMENT', `host ${host.name} has no item '${id}'`, { expected: `one of ${items.map((i) => i.id).join(', ')}` });
  const preview = (item.type as { preview?: Preview }).preview;
  if (typeof preview !== 'function') throw new FettleError('E_ARGUMENT', `items of type '${item.typeName}' have no preview`, { where: id, hint: 'template items do' });
  const content = await preview.call(item.type, { id: item.id, name: item.name, attrs: item.attrs }, { host, siteDir: site.dir });
  if (out.json) out.document({ host: host.name, item: id, content });
  else out.stdout.write(out.redactor.scrub(content));
  return 0;
}

export async function itemsCommand(site: LoadedSite, out: Output, hostName: string, preview?: string): Promise<number> {
  const host = await findHost(site, hostName);
  const built = await buildHostItems(host, site.config, site.registry, out.redactor, { locateRole: (role, error) => site.locateRole(role, error) });
  if (preview !== undefined) return previewCommand(site, out, host, built.items, preview);
  const graph = buildGraph(built.items, host.name);
  const items = graph.order.map((id) => {
    const item = built.items.find((candidate) => candidate.id === id);
    return {
      id,
      type: item?.typeName,
      role: item?.role,
      needs: [...(graph.needs.get(id) ?? [])].sort(),
      triggers: [...(graph.triggers.get(id) ?? [])].sort(),
      attributes: item?.attrs,
    };
  });
  if (out.json) {
    out.document({ host: host.name, items, tasks: built.tasks.map(({ role, task }) => ({ id: task.id, role, description: task.description })) });
    return 0;
  }
  for (const item of items) {
    out.line(`${pc.bold(item.id)}  ${pc.dim(`(role ${item.role ?? '?'})`)}`);
    if (item.needs.length > 0) out.line(`    needs     ${item.needs.join(', ')}`);
    if (item.triggers.length > 0) out.line(`    triggers  ${item.triggers.join(', ')}`);
    for (const [key, value] of Object.entries((item.attributes ?? {}) as Record<string, unknown>)) {
      if (value === undefined) continue;
      out.line(`    ${key.padEnd(9)} ${attributeText(out.redactor.scrubValue(value))}`);
    }
  }
  out.line(pc.dim(`${items.length} items on ${host.name}`));
  return 0;
}

/** An attribute on one line; scrubbed before it is cut, so a secret is shown by name, never in part. */
function attributeText(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  if (!value.includes('\n')) return value;
  return `${JSON.stringify(value.slice(0, 60))}${value.length > 60 ? '…' : ''}`;
}

/** `fettle plugins`: what the site's plugins provide. */
