import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { FettleError, writeFileAtomic } from '@fettle/core';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';
import { buildBundle, fileBase } from '../site-package/bundle.js';
import { collectSiteFiles } from '../site-package/files.js';
import { packSite, packageManifest } from '../site-package/pack.js';
import { compareVersions, mintVersion, readSitePackageJson } from '../site-package/version.js';
import { validateSite } from './validate.js';
import { DEFAULT_OUT } from './paths.js';

export { DEFAULT_OUT };

/** `build.json` in the output folder: the last build, read by `deploy` and `publish`. */
export interface BuildRecord {
  readonly name: string;
  readonly version: string;
  /** Absolute paths. */
  readonly bundle: string;
  readonly tarball: string;
  readonly integrity: string;
  readonly builtAt: string;
}

export const BUILD_RECORD = 'build.json';

/** The site's package name: its package.json's, else the config's `name`, else the folder's. */
export function siteName(site: LoadedSite): string {
  return readSitePackageJson(site.dir).name ?? site.config.name ?? path.basename(site.dir);
}

export function readBuildRecord(outDir: string): BuildRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(outDir, BUILD_RECORD), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}

/** The last build of a site, or an error saying to build first. */
export function requireBuild(site: LoadedSite, out: string | undefined): BuildRecord {
  const outDir = path.resolve(site.dir, out ?? DEFAULT_OUT);
  const record = readBuildRecord(outDir);
  if (!record) {
    throw new FettleError('E_ARGUMENT', `the site has not been built: no ${BUILD_RECORD} in ${outDir}`, { hint: 'run `fettle build` first' });
  }
  return record;
}

/** Builds kept in the output folder: the newest few, so a deploy can go back one or two. */
export const KEEP_BUILDS = 3;

/** Remove all but the newest `KEEP_BUILDS` builds of this package from the output folder. */
function pruneBuilds(outDir: string, base: string): void {
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?)\\.(mjs|tgz)$`);
  const files = readdirSync(outDir).flatMap((file) => {
    const match = pattern.exec(file);
    return match?.[1] ? [{ file, version: match[1] }] : [];
  });
  const keep = new Set([...new Set(files.map((entry) => entry.version))].sort(compareVersions).slice(-KEEP_BUILDS));
  for (const entry of files) if (!keep.has(entry.version)) rmSync(path.join(outDir, entry.file), { force: true });
}

/** Validate, mint a version, bundle, pack. Throws on a site with problems. */
export async function buildSite(site: LoadedSite, out: Output, outOption: string | undefined): Promise<BuildRecord> {
  const problems = await validateSite(site, out);
  if (problems.length > 0) {
    throw new FettleError('E_SITE', `the site has ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was built:\n${problems.map((problem) => `  ${problem.host ? `${problem.host}: ` : ''}${problem.message}`).join('\n')}`, {
      where: site.dir,
      hint: 'fix them (fettle validate lists them), then build again',
    });
  }
  const own = readSitePackageJson(site.dir);
  const name = siteName(site);
  const outDir = path.resolve(site.dir, outOption ?? DEFAULT_OUT);
  const previous = readBuildRecord(outDir)?.version;
  const version = await mintVersion(site.exports, { name, packageVersion: own.version, previous }, site.configPath);
  const files = collectSiteFiles(site.dir, [outDir]);
  const config = path.relative(site.dir, site.configPath).split(path.sep).join('/');
  const bundle = await buildBundle(site.dir, site.configPath, { name, version, config }, files);
  const tarball = await packSite(outDir, files, bundle, packageManifest(site.dir, site.config, own, name, version));
  const bundlePath = path.join(outDir, `${fileBase(name)}-${version}.mjs`);
  await writeFileAtomic(bundlePath, bundle, { mode: 0o644 });
  const record: BuildRecord = { name, version, bundle: bundlePath, tarball: tarball.file, integrity: tarball.integrity, builtAt: new Date().toISOString() };
  await writeFileAtomic(path.join(outDir, BUILD_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  pruneBuilds(outDir, fileBase(name));
  return record;
}

/** `fettle build`. */
export async function buildCommand(site: LoadedSite, out: Output, options: { out?: string | undefined }): Promise<number> {
  const record = await buildSite(site, out, options.out);
  if (out.json) out.document(record);
  else {
    out.line(`built ${record.name} ${record.version}`);
    out.line(`  bundle   ${path.relative(process.cwd(), record.bundle)}  (runs with: node FILE apply --node NAME)`);
    out.line(`  package  ${path.relative(process.cwd(), record.tarball)}  ${record.integrity.slice(0, 24)}…`);
  }
  return EXIT.ok;
}
