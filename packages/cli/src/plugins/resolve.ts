// From what a user types after `fettle add` to a package on the registry, and whether
// that package may be a fettle plugin at all (checked before anything is installed).
import { execFile } from 'node:child_process';
import { FettleError } from '@fettle/core';

/** Prefixes of the first-party plugins, so `fettle add apt` finds `@fettle/items-apt`. */
const FIRST_PARTY = ['items-', 'transport-', 'secrets-', 'template-', 'inventory-', ''];

/** The package names NAME may mean, most specific first. */
export function candidateNames(name: string): string[] {
  const scoped = /^(@[^/]+)\/(.+)$/.exec(name);
  if (scoped) {
    const [, scope, rest] = scoped as unknown as [string, string, string];
    return rest.startsWith('fettle-plugin-') || scope === '@fettle' ? [name] : [`${scope}/fettle-plugin-${rest}`, name];
  }
  if (name.startsWith('fettle-plugin-')) return [name];
  return [...FIRST_PARTY.map((prefix) => `@fettle/${prefix}${name}`), `fettle-plugin-${name}`, name];
}

/** The registry's view of a package's latest version: what `npm view NAME --json` prints. */
export interface RegistryManifest {
  readonly name: string;
  readonly version: string;
  readonly keywords?: readonly string[];
  readonly main?: string;
  readonly module?: string;
  readonly exports?: unknown;
}

function npmView(name: string, cwd: string): Promise<RegistryManifest | undefined> {
  return new Promise((resolve, reject) => {
    execFile('npm', ['view', name, '--json'], { cwd, encoding: 'utf8', maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) {
        const parsed = JSON.parse(stdout || 'null') as RegistryManifest | RegistryManifest[] | null;
        resolve(Array.isArray(parsed) ? parsed.at(-1) : (parsed ?? undefined));
      } else if (/E404|404 Not Found|is not in this registry/.test(`${stdout}${stderr}`)) {
        resolve(undefined);
      } else {
        reject(new FettleError('E_PLUGIN', `cannot ask the npm registry about ${name}: ${(stderr || error.message).trim().split('\n')[0] ?? ''}`));
      }
    });
  });
}

/** The first candidate that exists on the registry (all asked at once). */
export async function findOnRegistry(name: string, cwd: string): Promise<RegistryManifest> {
  const candidates = candidateNames(name);
  const found = await Promise.all(candidates.map((candidate) => npmView(candidate, cwd)));
  const manifest = found.find((entry) => entry !== undefined);
  if (!manifest) {
    throw new FettleError('E_PLUGIN', `no package on the registry for '${name}'`, {
      where: `fettle add ${name}`,
      expected: `one of ${candidates.join(', ')}`,
    });
  }
  return manifest;
}

/** Every file a manifest points node at for `import`. */
function entryPoints(manifest: { main?: string | undefined; module?: string | undefined; exports?: unknown }): string[] {
  const out: string[] = [];
  const walk = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (key !== 'types' && !value.endsWith('package.json')) out.push(value);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(manifest.exports ?? manifest.main ?? manifest.module ?? 'index.js', '.');
  return out;
}

/**
 * Refuses what cannot be a loadable fettle plugin, naming why: no `fettle-plugin`
 * keyword, or entry points that are TypeScript sources (node will not import .ts from node_modules).
 */
export function checkPluginManifest(manifest: RegistryManifest): void {
  const where = `${manifest.name}@${manifest.version}`;
  if (!(manifest.keywords ?? []).includes('fettle-plugin')) {
    throw new FettleError('E_PLUGIN', `${manifest.name} is not a fettle plugin: its package.json has no "fettle-plugin" keyword`, {
      where,
      expected: 'a package whose keywords include "fettle-plugin" and whose default export is definePlugin({ … })',
    });
  }
  const sources = entryPoints(manifest).filter((file) => /\.(c|m)?tsx?$/.test(file) && !/\.d\.(c|m)?ts$/.test(file));
  if (sources.length > 0) {
    throw new FettleError('E_PLUGIN', `${manifest.name} is published as TypeScript source only (${sources.join(', ')})`, {
      where,
      expected: 'entry points that are JavaScript',
      hint: 'its author should build it to JavaScript (tsup or tsc, into dist/) and point "exports" there; node does not load .ts files from node_modules',
    });
  }
}
