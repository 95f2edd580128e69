import { formatError, prepareHosts, type Host } from '@fettle/core/engine';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';

/** One thing wrong with a site, and the host it was found on (none: the site as a whole). */
export interface SiteProblem {
  readonly host?: string | undefined;
  readonly message: string;
}

/**
 * Check a whole site without touching any host (BundleWrap's `bw test`): every host
 * prepares as a run would prepare it — roles run, items validate against their
 * schemas, secrets resolve for the hosts that use them (the store checks that the
 * host may read each one), dependencies exist and have no cycle, the transport and
 * its options are known. Hosts are checked one by one so that one broken host does
 * not hide the problems of the others.
 */
export async function validateSite(site: LoadedSite, out: Output): Promise<SiteProblem[]> {
  let hosts: readonly Host[];
  try {
    hosts = await site.listHosts();
  } catch (error) {
    return [{ message: formatError(error) }];
  }
  if (hosts.length === 0) return [{ message: `the host store (${site.hosts.describe}) lists no host` }];
  const problems: SiteProblem[] = [];
  for (const host of hosts) {
    try {
      // The output's redactor learns every secret prepared, so no message below can print one.
      await prepareHosts(site.config, site.registry, [host], out.redactor, { siteDir: site.dir, locateRole: (role, error) => site.locateRole(role, error) });
    } catch (error) {
      problems.push({ host: host.name, message: formatError(error) });
    }
  }
  return problems;
}

/** `fettle validate`: exit 3 listing every problem, 0 when the site is sound. */
export async function validateCommand(site: LoadedSite, out: Output): Promise<number> {
  const hosts = await site.listHosts().catch(() => []);
  const problems = await validateSite(site, out);
  if (out.json) out.document({ ok: problems.length === 0, hosts: hosts.length, problems });
  else if (problems.length === 0) out.line(`site ${site.dir}: ${hosts.length} host${hosts.length === 1 ? '' : 's'} prepared, no problem found`);
  else {
    for (const problem of problems) out.error(problem.host ? `${problem.host}: ${problem.message}` : problem.message);
    out.error(`${problems.length} problem${problems.length === 1 ? '' : 's'} in site ${site.dir}`);
  }
  return problems.length === 0 ? EXIT.ok : EXIT.input;
}
