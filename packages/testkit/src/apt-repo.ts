import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A package of the local repository: installable by the machine's real apt and dpkg. */
export interface AptTestPackage {
  readonly name: string;
  readonly version: string;
}

/**
 * A private apt repository on this machine's disk, and an apt configuration that sees only it:
 * its own sources, package lists and cache, the machine's real dpkg database. Point apt at it
 * with `env` (`APT_CONFIG`), through sshd's `SetEnv` or sudo's `env_keep` for remote commands.
 */
export interface AptTestRepo {
  /** The folder holding everything (0755: a non-root user's `sudo apt-get` reads the configuration). */
  readonly dir: string;
  /** The environment that points apt at this repository. */
  readonly env: { readonly APT_CONFIG: string };
  /** The packages in the repository, none installed yet: collision-proof names (`fettle-t<random>-<i>`). */
  readonly packages: readonly AptTestPackage[];
  /** apt's lock on its package lists, in this configuration (`apt-get update` takes it). */
  readonly listsLock: string;
  /** Whether an `apt-get update` has fetched this repository's index into its private lists. */
  synced(): boolean;
  /** Purges whatever of the packages got installed and removes the folder. */
  remove(): void;
}

/**
 * Builds `count` tiny packages (no dependencies, one file under /usr/share/doc) with
 * `dpkg-deb`, indexes them, and writes an apt configuration that uses nothing else, so
 * `apt-get update` and `apt-get install` run for real and never reach the network.
 * Synchronous so that a test file can name its paths before its sshd starts.
 */
export function createAptTestRepo(count = 2): AptTestRepo {
  const dir = mkdtempSync(join(tmpdir(), 'fettle-apt-repo-'));
  chmodSync(dir, 0o755);
  const repo = join(dir, 'repo');
  for (const sub of ['repo', 'build', 'sources.list.d', 'lists/partial', 'cache/archives/partial']) mkdirSync(join(dir, sub), { recursive: true });
  const stem = `fettle-t${randomBytes(4).toString('hex')}`;
  const packages = Array.from({ length: count }, (_, i) => ({ name: `${stem}-${i + 1}`, version: '1.0-1' }));
  const stanzas = packages.map((pkg) => {
    const deb = join(repo, `${pkg.name}_${pkg.version}_all.deb`);
    buildDeb(join(dir, 'build', pkg.name), pkg, deb);
    const bytes = readFileSync(deb);
    return [
      ...controlFields(pkg),
      `Filename: ./${pkg.name}_${pkg.version}_all.deb`,
      `Size: ${statSync(deb).size}`,
      `SHA256: ${createHash('sha256').update(bytes).digest('hex')}`,
      '',
    ].join('\n');
  });
  const index = stanzas.join('\n');
  writeFileSync(join(repo, 'Packages'), index);
  // A Release naming the one index: apt fetches exactly that (no probing for compressed variants).
  const sha = createHash('sha256').update(index).digest('hex');
  writeFileSync(join(repo, 'Release'), `Date: ${new Date().toUTCString()}\nSHA256:\n ${sha} ${Buffer.byteLength(index)} Packages\n`);
  writeFileSync(join(dir, 'sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  const config = join(dir, 'apt.conf');
  writeFileSync(
    config,
    [
      `Dir::Etc::SourceList "${join(dir, 'sources.list')}";`,
      `Dir::Etc::SourceParts "${join(dir, 'sources.list.d')}";`,
      `Dir::State::Lists "${join(dir, 'lists')}";`,
      `Dir::Cache "${join(dir, 'cache')}";`,
      '',
    ].join('\n'),
  );
  return {
    dir,
    env: { APT_CONFIG: config },
    packages,
    listsLock: join(dir, 'lists', 'lock'),
    synced: () => readdirSync(join(dir, 'lists')).some((name) => name.endsWith('_Release')),
    remove: () => {
      const names = packages.map((pkg) => pkg.name);
      // Only this repository's packages: purge them if a test left any installed.
      execFileSync('dpkg', ['--purge', ...names], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The fields a package's control file and its stanza in the index share. */
function controlFields(pkg: AptTestPackage): string[] {
  return [`Package: ${pkg.name}`, `Version: ${pkg.version}`, 'Architecture: all', 'Maintainer: fettle tests <tests@fettle.invalid>', `Description: fettle test package ${pkg.name}`];
}

function buildDeb(tree: string, pkg: AptTestPackage, deb: string): void {
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  mkdirSync(join(tree, 'usr/share/doc', pkg.name), { recursive: true });
  writeFileSync(
    join(tree, 'DEBIAN/control'),
    [...controlFields(pkg), ''].join('\n'),
  );
  writeFileSync(join(tree, 'usr/share/doc', pkg.name, 'README'), `${pkg.name}: installed by a fettle test, purged after it.\n`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', tree, deb], { stdio: 'ignore' });
}
