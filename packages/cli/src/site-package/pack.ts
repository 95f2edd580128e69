import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FettleError, type SiteConfig } from '@fettle/core';
import type { SiteFile } from './files.js';
import type { SitePackageJson } from './version.js';

const run = promisify(execFile);

/** The name of the bundle inside the site package. */
export const PACKAGED_BUNDLE = 'bundle.mjs';

/** The version of a dependency as installed for the site, for `workspace:` ranges npm cannot read. */
function installedVersion(siteDir: string, name: string): string | undefined {
  const file = path.join(siteDir, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
}

/**
 * The package.json that goes into the tarball: the minted version, the site's
 * dependencies with `workspace:` ranges made real, and every plugin the site lists
 * as a dependency (so `npm install` of the site brings them). Scripts and dev
 * dependencies stay behind: the package is run, not developed.
 */
export function packageManifest(siteDir: string, site: SiteConfig, own: SitePackageJson, name: string, version: string): Record<string, unknown> {
  const dependencies: Record<string, string> = {};
  for (const [dependency, range] of Object.entries(own.dependencies ?? {})) {
    if (!range.startsWith('workspace:')) dependencies[dependency] = range;
    else {
      const installed = installedVersion(siteDir, dependency);
      dependencies[dependency] = installed ? `^${installed}` : '*';
    }
  }
  for (const plugin of site.plugins) {
    dependencies[plugin.name] ??= plugin.version ? `^${plugin.version}` : (installedVersion(siteDir, plugin.name) ?? '*');
  }
  const kept = Object.fromEntries(Object.entries(own).filter(([key]) => ['description', 'license', 'repository', 'author', 'keywords'].includes(key)));
  return {
    name,
    version,
    ...kept,
    type: 'module',
    dependencies,
    fettle: { bundle: PACKAGED_BUNDLE, builtAt: new Date().toISOString() },
  };
}

/** What `npm pack` made. */
export interface PackedTarball {
  readonly file: string;
  /** `sha512-…`, as the registry will report it in `dist.integrity`. */
  readonly integrity: string;
  readonly size: number;
}

/** `npm pack` the site's files, its bundle and its manifest into `outDir`. */
export async function packSite(outDir: string, files: readonly SiteFile[], bundle: Uint8Array, manifest: Record<string, unknown>): Promise<PackedTarball> {
  await mkdir(outDir, { recursive: true });
  const stage = await mkdtemp(path.join(outDir, '.stage-'));
  try {
    for (const file of files) {
      if (file.path === 'package.json') continue;
      const target = path.join(stage, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, file.data);
    }
    await writeFile(path.join(stage, PACKAGED_BUNDLE), bundle);
    await writeFile(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    let stdout: string;
    try {
      ({ stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], { cwd: stage, maxBuffer: 64 * 1024 * 1024 }));
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new FettleError('E_COMMAND', `npm pack failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`, { where: stage });
    }
    const [packed] = JSON.parse(stdout) as { filename: string; integrity: string; size: number }[];
    if (!packed) throw new FettleError('E_COMMAND', 'npm pack reported no tarball', { where: stage });
    return { file: path.join(outDir, packed.filename), integrity: packed.integrity, size: packed.size };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
