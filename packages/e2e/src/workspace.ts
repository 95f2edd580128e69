// The workspace's publishable packages, read from their manifests: what the release
// publishes and what these tests check, with no list to keep in step by hand.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  keywords?: string[];
  engines?: Record<string, string>;
  files?: string[];
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  publishConfig?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  dir: string;
  manifest: Manifest;
}

export function publishablePackages(): WorkspacePackage[] {
  const found: WorkspacePackage[] = [];
  for (const group of ['packages', 'plugins', 'examples']) {
    const groupDir = path.join(repoRoot, group);
    for (const entry of readdirSync(groupDir).sort()) {
      const file = path.join(groupDir, entry, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
      if (manifest.private !== true) found.push({ dir: path.join(groupDir, entry), manifest });
    }
  }
  return found;
}

/** Every file a manifest promises to a user: main, types, bin and each export target. */
export function promisedFiles(manifest: Manifest): string[] {
  const targets = new Set<string>();
  const add = (target: string | undefined): void => {
    if (target !== undefined) targets.add(target.replace(/^\.\//, ''));
  };
  add(manifest.main);
  add(manifest.types);
  for (const target of Object.values(manifest.bin ?? {})) add(target);
  for (const entry of Object.values(manifest.exports ?? {})) {
    if (typeof entry === 'string') add(entry);
    else for (const target of Object.values(entry)) add(target);
  }
  return [...targets];
}

/** Whether a promised target is in the packed files; an export pattern (`./schemas/*`) needs at least one match. */
export function isDelivered(target: string, files: readonly string[]): boolean {
  if (!target.includes('*')) return files.includes(target);
  const pattern = new RegExp(`^${target.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
  return files.some((file) => pattern.test(file));
}
