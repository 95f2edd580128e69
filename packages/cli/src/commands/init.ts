import { createSite, CreateSiteError } from 'create-fettle';
import { FettleError } from '@fettle/core';
import type { Output } from '../output.js';

/** `fettle init [dir]`: the same scaffold as `npm create fettle`. */
export function initCommand(dir: string, options: { install: boolean }, out: Output): number {
  try {
    const site = createSite(dir, { install: options.install, log: (line) => out.error(line) });
    if (out.json) out.document({ dir: site.dir, packageManager: site.packageManager, files: site.files });
    return 0;
  } catch (error) {
    if (error instanceof CreateSiteError) throw new FettleError('E_ARGUMENT', error.message, { where: 'fettle init' });
    throw error;
  }
}
