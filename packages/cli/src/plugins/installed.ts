// Plugins as installed in a site: where a package is, its version, and whether its
// default export really is a plugin.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FettleError, type Plugin } from '@fettle/core';

interface InstalledManifest {
  readonly name: string;
  readonly version: string;
  readonly main?: string;
  readonly exports?: unknown;
}

/** The folder of a package as node would find it from the site folder. */
export function installedPackageDir(siteDir: string, name: string): string | undefined {
  for (let dir = path.resolve(siteDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export function installedManifest(siteDir: string, name: string): InstalledManifest | undefined {
  const dir = installedPackageDir(siteDir, name);
  return dir ? (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as InstalledManifest) : undefined;
}

/** The file `import NAME` loads: the `import`/`default` condition of the `.` export, else main. */
function importEntry(manifest: InstalledManifest): string {
  let entry: unknown = manifest.exports;
  if (entry && typeof entry === 'object' && '.' in entry) entry = (entry as Record<string, unknown>)['.'];
  while (entry && typeof entry === 'object') {
    const conditions = entry as Record<string, unknown>;
    entry = conditions['import'] ?? conditions['node'] ?? conditions['default'];
  }
  return typeof entry === 'string' ? entry : (manifest.main ?? 'index.js');
}

const SLOTS = ['itemTypes', 'facts', 'transports', 'commands', 'hostStores', 'secretStores'] as const;

export function isPlugin(value: unknown): value is Plugin {
  if (typeof value !== 'object' || value === null || typeof (value as Plugin).name !== 'string') return false;
  const record = value as Record<string, unknown>;
  return SLOTS.some((slot) => Array.isArray(record[slot]));
}

/** Imports an installed package and returns its default export, refusing anything that is not a plugin. */
export async function loadInstalledPlugin(siteDir: string, name: string): Promise<Plugin> {
  const dir = installedPackageDir(siteDir, name);
  const manifest = installedManifest(siteDir, name);
  if (!dir || !manifest) throw new FettleError('E_PLUGIN', `${name} is not installed in the site`, { where: siteDir });
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path.join(dir, importEntry(manifest))).href)) as { default?: unknown };
  } catch (error) {
    throw new FettleError('E_PLUGIN', `${name} does not load: ${error instanceof Error ? error.message : String(error)}`, { where: `${name}@${manifest.version}` });
  }
  if (!isPlugin(module.default)) {
    throw new FettleError('E_PLUGIN', `${name} is not a fettle plugin: its default export is not definePlugin({ name, … }) with item types, facts, transports, stores or commands`, {
      where: `${name}@${manifest.version}`,
    });
  }
  return module.default;
}
