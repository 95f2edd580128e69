import { spawn } from 'node:child_process';
import { FettleError } from '@fettle/core';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';
import { registryAccess } from '../site-package/npmrc.js';
import { requireBuild } from './build.js';

export interface PublishOptions {
  readonly out?: string | undefined;
  readonly tag?: string | undefined;
  readonly registry?: string | undefined;
  readonly access?: string | undefined;
}

/**
 * `fettle publish`: `npm publish` of the last build's tarball, so the registry URL
 * and the token come from the user's npm config (project and user .npmrc) as for
 * any package.
 */
export async function publishCommand(site: LoadedSite, out: Output, options: PublishOptions): Promise<number> {
  const build = requireBuild(site, options.out);
  const registry = registryAccess(build.name, { registry: options.registry, cwd: site.dir }).url;
  const args = ['publish', build.tarball, '--ignore-scripts', '--registry', registry];
  if (options.tag) args.push('--tag', options.tag);
  if (options.access) args.push('--access', options.access);
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('npm', args, { cwd: site.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, stderr: text }));
  });
  if (code !== 0) {
    const reason = stderr.split('\n').filter((line) => /npm error/.test(line)).slice(0, 3).join(' ') || stderr.trim().split('\n').slice(-2).join(' ');
    throw new FettleError('E_COMMAND', `npm publish of ${build.name}@${build.version} failed: ${reason}`, {
      where: registry,
      hint: /E40[13]|auth/i.test(stderr) ? `log in to the registry (npm login --registry ${registry}) or put its token in your .npmrc` : undefined,
    });
  }
  const published = { name: build.name, version: build.version, registry, tag: options.tag ?? 'latest', integrity: build.integrity };
  if (out.json) out.document(published);
  else out.line(`published ${build.name}@${build.version} to ${registry} (dist-tag ${published.tag})`);
  return EXIT.ok;
}
