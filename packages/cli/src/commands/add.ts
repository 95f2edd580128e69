import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { addCommand, detectPackageManager, removeCommand, type PackageManager } from 'create-fettle';
import { FettleError, writeFileAtomic, type Plugin } from '@fettle/core';
import type { Output } from '../output.js';
import { findConfig } from '../site.js';
import { addPluginToConfig } from '../plugins/config-edit.js';
import { installedManifest, loadInstalledPlugin } from '../plugins/installed.js';
import { candidateNames, checkPluginManifest, findOnRegistry } from '../plugins/resolve.js';
import { contributions } from './plugins.js';

interface SiteManifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Wanted {
  readonly asked: string;
  readonly name: string;
  /** Already a dependency of the site: nothing to install. */
  readonly installed: boolean;
}

function readSiteManifest(siteDir: string): SiteManifest {
  try {
    return JSON.parse(readFileSync(path.join(siteDir, 'package.json'), 'utf8')) as SiteManifest;
  } catch {
    throw new FettleError('E_SITE', 'the site has no readable package.json', { where: siteDir, hint: 'start a site with fettle init' });
  }
}

function runPackageManager(siteDir: string, [command, args]: [string, string[]]): void {
  // The package manager's chatter goes to stderr, so `--json` keeps stdout to one document.
  const result = spawnSync(command, args, { cwd: siteDir, stdio: ['ignore', process.stderr, process.stderr] });
  if (result.status !== 0) {
    throw new FettleError('E_COMMAND', `'${command} ${args.join(' ')}' failed${result.error ? `: ${result.error.message}` : ` with exit code ${String(result.status)}`}`, { where: siteDir });
  }
}

/** Which package each name means: a dependency the site already has, else the registry's answer (checked). */
async function resolveWanted(siteDir: string, names: readonly string[], deps: Record<string, string>): Promise<Wanted[]> {
  return Promise.all(
    names.map(async (asked) => {
      const local = candidateNames(asked).find((candidate) => candidate in deps);
      if (local) return { asked, name: local, installed: true };
      const manifest = await findOnRegistry(asked, siteDir);
      checkPluginManifest(manifest);
      return { asked, name: manifest.name, installed: manifest.name in deps };
    }),
  );
}

async function loadAll(siteDir: string, wanted: readonly Wanted[], manager: PackageManager): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const entry of wanted) {
    try {
      plugins.push(await loadInstalledPlugin(siteDir, entry.name));
    } catch (error) {
      // Take back what this run installed, so a refused package leaves no trace in the site.
      const fresh = wanted.filter((w) => !w.installed).map((w) => w.name);
      if (fresh.length > 0) runPackageManager(siteDir, removeCommand(manager, fresh));
      throw error;
    }
  }
  return plugins;
}

/** `fettle add NAME…`: install plugins with the site's package manager and list them in fettle.config.ts. */
export async function addPluginsCommand(siteOption: string, names: readonly string[], out: Output): Promise<number> {
  const siteDir = path.resolve(siteOption);
  const configPath = findConfig(siteDir);
  const manifest = readSiteManifest(siteDir);
  const deps = { ...manifest.devDependencies, ...manifest.dependencies };
  const wanted = await resolveWanted(siteDir, names, deps);

  const manager = detectPackageManager(siteDir);
  const toInstall = [...new Set(wanted.filter((entry) => !entry.installed).map((entry) => entry.name))];
  if (toInstall.length > 0) {
    out.error(`installing ${toInstall.join(', ')} with ${manager}`);
    runPackageManager(siteDir, addCommand(manager, toInstall));
  }
  const plugins = await loadAll(siteDir, wanted, manager);

  const original = readFileSync(configPath, 'utf8');
  let source = original;
  const report = wanted.map((entry, index) => {
    const edit = addPluginToConfig(source, entry.name, configPath);
    source = edit.source;
    const plugin = plugins[index] as Plugin;
    return {
      name: entry.name,
      version: installedManifest(siteDir, entry.name)?.version,
      binding: edit.local,
      changed: edit.changed || !entry.installed,
      provides: contributions(plugin),
    };
  });
  if (source !== original) await writeFileAtomic(configPath, source);

  if (out.json) out.document({ plugins: report });
  for (const entry of report) {
    const what = Object.entries(entry.provides)
      .filter(([, names]) => names.length > 0)
      .map(([kind, names]) => `${kind} ${names.join(', ')}`)
      .join('; ');
    out.line(entry.changed ? `added ${entry.name}@${entry.version ?? '?'} as ${entry.binding}${what ? `: ${what}` : ''}` : `${entry.name} is already in the site`);
  }
  return 0;
}
