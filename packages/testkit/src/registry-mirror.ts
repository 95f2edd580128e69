// Third-party packages for a test registry without an uplink: what the workspace already
// installed is packed and published, so `npm install` in a test never reaches the network.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

interface InstalledManifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

interface Installed {
  readonly dir: string;
  readonly manifest: InstalledManifest;
}

/** The folder node would load `name` from when required from `fromDir` (walking up node_modules), or undefined. */
function resolveInstalled(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** Packages to mirror: `names` as node resolves them from the folder `from`. */
export interface InstalledNeed {
  readonly from: string;
  readonly names: readonly string[];
}

/**
 * Every package the `needs` need at run time, as installed for their folders: dependencies,
 * peer dependencies and the optional dependencies present on this machine (an optional one
 * not installed here, like another platform's binary, is left out: npm skips it when the
 * registry does not have it). Each name@version once.
 */
export function installedClosure(needs: readonly InstalledNeed[]): Installed[] {
  const found = new Map<string, Installed>();
  const visit = (name: string, from: string, optional: boolean): void => {
    const dir = resolveInstalled(name, from);
    if (dir === undefined) {
      if (optional) return;
      throw new Error(`testkit: ${name} is not installed for ${from}; run pnpm install first`);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as InstalledManifest;
    const key = `${manifest.name}@${manifest.version}`;
    if (found.has(key)) return;
    found.set(key, { dir, manifest });
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir, false);
    for (const dep of Object.keys({ ...manifest.optionalDependencies, ...manifest.peerDependencies })) visit(dep, dir, true);
  };
  for (const { from, names } of needs) for (const name of names) visit(name, from, false);
  return [...found.values()];
}

/** The package folder as npm packs it: a gzipped tar of `package/…` (without nested node_modules). */
async function packInstalled(dir: string): Promise<Buffer> {
  const entries = readdirSync(dir).filter((entry) => entry !== 'node_modules');
  const { stdout } = await exec('tar', ['-czf', '-', '--hard-dereference', '--owner=0', '--group=0', '--transform', 's,^,package/,', '-C', dir, ...entries], {
    encoding: 'buffer',
    maxBuffer: 512 * 1024 * 1024,
  });
  return stdout;
}

/** Publishes one installed package the way `npm publish` does (one PUT with the tarball attached). */
async function publishInstalled(registryUrl: string, token: string, { dir, manifest }: Installed): Promise<void> {
  const tarball = await packInstalled(dir);
  const file = `${manifest.name.replace(/^@[^/]+\//, '')}-${manifest.version}.tgz`;
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      shasum: createHash('sha1').update(tarball).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
      tarball: `${registryUrl}${manifest.name}/-/${file}`,
    },
  };
  const body = {
    _id: manifest.name,
    name: manifest.name,
    'dist-tags': { latest: manifest.version },
    versions: { [manifest.version]: version },
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const res = await fetch(`${registryUrl}${manifest.name.replace('/', '%2f')}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`testkit: publishing ${manifest.name}@${manifest.version} to the test registry: HTTP ${res.status} ${await res.text()}`);
}

/** Publishes `packages` (one at a time per name, a few names at once); resolves to `name@version` of each. */
export async function publishClosure(registryUrl: string, token: string, packages: readonly Installed[]): Promise<string[]> {
  // Two versions of one name must not race on the same packument.
  const byName = new Map<string, Installed[]>();
  for (const pkg of packages) byName.set(pkg.manifest.name, [...(byName.get(pkg.manifest.name) ?? []), pkg]);
  const queue = [...byName.values()];
  const worker = async (): Promise<void> => {
    for (let versions = queue.shift(); versions !== undefined; versions = queue.shift()) {
      for (const pkg of versions) await publishInstalled(registryUrl, token, pkg);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return packages.map(({ manifest }) => `${manifest.name}@${manifest.version}`);
}
