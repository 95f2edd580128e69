// `npm pack --dry-run` of each package lists only what a user needs, and every file the
// manifest promises is in it; the manifest is one that installs outside the workspace.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isDelivered, promisedFiles, publishablePackages } from './workspace.js';

interface PackListing {
  files: { path: string }[];
}

function packedFiles(dir: string): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [listing] = JSON.parse(out) as PackListing[];
  return (listing?.files ?? []).map((file) => file.path).sort();
}

const packages = publishablePackages();

describe('npm pack --dry-run', () => {
  it('finds the workspace packages', () => {
    expect(packages.map((p) => p.manifest.name)).toEqual(expect.arrayContaining(['@fettle/core', '@fettle/cli', '@fettle/testkit', '@fettle/items-apt']));
  });

  it.each(packages.map((p) => [p.manifest.name, p] as const))('%s ships only what a user needs', (_name, { dir, manifest }) => {
    const files = packedFiles(dir);
    const extraDirs = (manifest.files ?? []).filter((entry) => entry !== 'dist');
    const allowed = (file: string): boolean =>
      ['package.json', 'README.md', 'LICENSE'].includes(file) ||
      /^dist\/[\w./-]+\.(js|cjs|d\.ts)$/.test(file) ||
      extraDirs.some((extra) => file.startsWith(`${extra}/`));
    expect(files.filter((file) => !allowed(file))).toEqual([]);
    expect(files.filter((file) => /\.test\.|\.map$|^src\//.test(file))).toEqual([]);
    expect(files).toContain('README.md');
    expect(promisedFiles(manifest).filter((target) => !isDelivered(target, files))).toEqual([]);
  });

  it.each(packages.map((p) => [p.manifest.name, p] as const))('%s has a manifest that installs from a registry', (_name, { dir, manifest }) => {
    expect(manifest.engines?.node).toMatch(/^>=20/);
    expect(manifest.publishConfig?.access).toBe('public');
    expect(manifest.keywords).toContain('fettle');
    if (dir.includes('/plugins/') || manifest.keywords?.includes('fettle-plugin')) {
      expect(manifest.keywords).toContain('fettle-plugin');
      expect(manifest.peerDependencies?.['@fettle/core']).toBeDefined();
      expect(manifest.dependencies?.['@fettle/core']).toBeUndefined();
    }
  });
});
