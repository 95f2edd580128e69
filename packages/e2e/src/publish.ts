// Publishes the workspace the way a release does (pnpm publish, which turns `workspace:`
// ranges into real versions) to a test registry.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RegistryKit } from '@fettle/testkit';
import { publishablePackages, repoRoot } from './workspace.js';

const exec = promisify(execFile);

export async function publishWorkspace(registry: RegistryKit): Promise<void> {
  try {
    await exec('pnpm', ['-r', 'publish', '--no-git-checks', '--registry', registry.url], {
      cwd: repoRoot,
      env: registry.env({ CI: 'true' }),
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(`pnpm -r publish failed: ${String(err)}\n--- verdaccio log ---\n${await registry.logTail()}`, { cause: err });
  }
}

/**
 * The third-party packages the published ones need (zod, ssh2, esbuild, …), as this workspace
 * installed them: the test registry has no uplink, so an install never reaches the network.
 */
export async function mirrorThirdParty(registry: RegistryKit): Promise<string[]> {
  const packages = publishablePackages();
  const ours = new Set(packages.map(({ manifest }) => manifest.name));
  const needs = packages.map(({ dir, manifest }) => ({
    from: dir,
    names: Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies }).filter((name) => !ours.has(name)),
  }));
  return registry.mirrorInstalled(needs);
}

export interface Packument {
  name: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; dist: { tarball: string } }>;
}

export async function packument(registry: RegistryKit, name: string): Promise<Packument | undefined> {
  const res = await fetch(`${registry.url}${name.replace('/', '%2f')}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET ${name}: HTTP ${res.status}`);
  return (await res.json()) as Packument;
}
