import { arg, defineFact, sh } from '@fettle/core';

/** What dpkg knows of one package. */
export interface DpkgPackage {
  readonly name: string;
  readonly architecture: string;
  /** dpkg's abbreviated status, e.g. `ii` (wanted install, installed) or `rc` (removed, config files left). */
  readonly status: string;
  /** Installed and configured (dpkg status `i`, or only waiting for triggers: `W`, `t`). */
  readonly installed: boolean;
  /** Version of the installed (or partly installed) package; null when there is none. */
  readonly version: string | null;
}

/** A Debian package name, optionally with `:architecture`. No globs: dpkg-query would expand them. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?$/;

const FORMAT = '${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Version}\\n';
const INSTALLED = new Set(['i', 'W', 't']);

/**
 * The dpkg status of any number of packages in one `dpkg-query -W` call. Packages
 * dpkg has never heard of make it exit 1 ("no packages found matching"); the ones it
 * knows are still printed, so exit 1 is a normal answer here.
 */
export const dpkgStatus = defineFact<string, DpkgPackage | null>({
  name: 'apt.dpkg-status',
  key: (name) => name,
  okCodes: [0, 1],
  command(names) {
    for (const name of names) if (!PACKAGE_NAME.test(name)) throw new Error(`apt.dpkg-status: not a package name: ${JSON.stringify(name)}`);
    return sh`dpkg-query -W -f ${arg(FORMAT)} ${names.map((name) => arg(name))}`;
  },
  parse(stdout, names) {
    const known: DpkgPackage[] = [];
    for (const line of stdout.split('\n')) {
      if (line === '') continue;
      const [name, architecture, abbrev, version] = line.split('\t');
      if (name === undefined || architecture === undefined || abbrev === undefined || version === undefined) {
        throw new Error(`apt.dpkg-status: unexpected line ${JSON.stringify(line)}`);
      }
      const state = abbrev.charAt(1);
      const present = state !== 'n' && state !== 'c' && state !== ' ' && state !== '';
      known.push({ name, architecture, status: abbrev.trimEnd(), installed: INSTALLED.has(state), version: present && version !== '' ? version : null });
    }
    return names.map((query) => {
      const [name, architecture] = query.split(':');
      const matches = known.filter((pkg) => pkg.name === name && (architecture === undefined || pkg.architecture === architecture));
      // Several lines for one name: a Multi-Arch package installed for more than one architecture.
      return matches.find((pkg) => pkg.installed) ?? matches.find((pkg) => pkg.version !== null) ?? matches[0] ?? null;
    });
  },
});
