import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { FettleError } from '@fettle/core';

/**
 * Folders never packaged: installed dependencies, build output, the demo sandboxes
 * (they hold what a run wrote, decrypted secrets included), and every dot entry
 * (.git, caches, editor files).
 */
const SKIPPED = new Set(['node_modules', 'dist', 'sandbox']);

/** An age private key in plain text. No site file may carry one to a node. */
const PRIVATE_KEY = /AGE-SECRET-KEY-1[0-9A-Z]{20,}/;

/** A file of the site, as it goes into the package and the bundle. */
export interface SiteFile {
  /** Relative to the site folder, `/`-separated. */
  readonly path: string;
  readonly data: Buffer;
}

/**
 * The site's own files (config, roles, inventory, encrypted secrets, host public
 * keys), everything but the folders above. A file that holds a private age key in
 * plain text stops the build: the controller's key never leaves the controller.
 */
export function collectSiteFiles(siteDir: string, skip: readonly string[] = []): SiteFile[] {
  const skipped = new Set([...SKIPPED, ...skip.map((entry) => path.resolve(siteDir, entry))]);
  const files: SiteFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith('.') || skipped.has(entry.name) || skipped.has(full)) continue;
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const data = readFileSync(full);
        const relative = path.relative(siteDir, full).split(path.sep).join('/');
        if (PRIVATE_KEY.test(data.toString('latin1'))) {
          throw new FettleError('E_SITE', `${relative} holds a private age key in plain text; it would be shipped to every node`, {
            where: full,
            expected: 'private keys outside the site (the controller key in ~/.config/fettle), host keys as encrypted secrets',
            hint: 'move the key file out of the site folder and point keySource at its new place',
          });
        }
        files.push({ path: relative, data });
      }
    }
  };
  walk(siteDir);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
