import type { Host } from './protocols/host.js';
import { FettleError } from './errors.js';

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

function matchTerm(term: string, hosts: readonly Host[], groups: Readonly<Record<string, readonly string[]>>): Host[] {
  if (term.startsWith('group:')) {
    const group = term.slice('group:'.length);
    const members = groups[group];
    if (!members) {
      throw new FettleError('E_SELECTOR', `no group named '${group}'`, {
        where: `selector term '${term}'`,
        expected: `one of ${Object.keys(groups).join(', ') || '(no groups defined)'}`,
      });
    }
    return hosts.filter((host) => members.includes(host.name));
  }
  if (/[*?[]/.test(term)) {
    const pattern = globToRegExp(term);
    return hosts.filter((host) => pattern.test(host.name));
  }
  const exact = hosts.filter((host) => host.name === term);
  if (exact.length > 0) return exact;
  // A bare word that is not a host name may be a group name (`fettle apply web`).
  const members = groups[term];
  if (members) return hosts.filter((host) => members.includes(host.name));
  return [];
}

/**
 * Select hosts: names, `group:NAME`, globs, `!exclusion`, comma lists. No selector
 * (or only exclusions) starts from every host. A selector naming no host is an error.
 */
export function selectHosts(
  selector: string | undefined,
  hosts: readonly Host[],
  groups: Readonly<Record<string, readonly string[]>>,
): Host[] {
  const terms = (selector ?? '')
    .split(',')
    .map((term) => term.trim())
    .filter((term) => term !== '');
  const includes = terms.filter((term) => !term.startsWith('!'));
  const excludes = terms.filter((term) => term.startsWith('!')).map((term) => term.slice(1));
  let selected = new Set<Host>(includes.length === 0 ? hosts : []);
  for (const term of includes) {
    const matched = matchTerm(term, hosts, groups);
    if (matched.length === 0) {
      throw new FettleError('E_SELECTOR', `'${term}' names no host`, {
        where: `selector '${selector ?? ''}'`,
        expected: `a host name, group:NAME, a glob or !exclusion; hosts are ${hosts.map((h) => h.name).join(', ') || '(none)'}`,
      });
    }
    for (const host of matched) selected.add(host);
  }
  for (const term of excludes) {
    const excluded = new Set(matchTerm(term, hosts, groups));
    selected = new Set([...selected].filter((host) => !excluded.has(host)));
  }
  const result = hosts.filter((host) => selected.has(host));
  if (result.length === 0) {
    throw new FettleError('E_SELECTOR', 'selects no host', { where: `selector '${selector ?? ''}'` });
  }
  return result;
}
