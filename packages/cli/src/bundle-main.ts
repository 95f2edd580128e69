import { main } from './main.js';
import { siteFromModule } from './site.js';

/** What the bundle's preamble knows: the site's name and version, and where it unpacked the site. */
export interface BundledSiteInfo {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly configPath: string;
}

/** The entry of a site bundle: the `fettle` program with this site built in. */
export async function runBundledSite(info: BundledSiteInfo, module: Readonly<Record<string, unknown>>): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), {
    name: info.name,
    version: info.version,
    load: () => siteFromModule(info.dir, info.configPath, module),
  });
}
