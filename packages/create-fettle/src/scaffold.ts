import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addCommand, detectPackageManager, runPrefix, type PackageManager } from './package-manager.js';
import { CONFIG, GITIGNORE, INVENTORY, NODE, ROLE, SITE_DEPENDENCIES, packageJson, readme } from './templates.js';

export interface CreateSiteOptions {
  /** Default: detected from `npm_config_user_agent`, else npm. */
  readonly packageManager?: PackageManager | undefined;
  /** Install the dependencies (default true); false only writes the files. */
  readonly install?: boolean | undefined;
  /** Where progress lines go (default: stderr). */
  readonly log?: ((line: string) => void) | undefined;
}

export interface CreatedSite {
  readonly dir: string;
  readonly packageManager: PackageManager;
  readonly files: readonly string[];
}

/** Raised for a folder that cannot become a site (not empty, a file, bad name). */
export class CreateSiteError extends Error {
  override readonly name = 'CreateSiteError';
}

/** A package name from a folder name: lower case, npm-safe characters. */
export function siteName(dir: string): string {
  const base = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  return base || 'fettle-site';
}

/**
 * Writes a new site into `dir` (created if missing, refused if it holds anything but
 * dot-files), then adds its dependencies with the package manager.
 */
export function createSite(dir: string, options: CreateSiteOptions = {}): CreatedSite {
  const target = path.resolve(dir);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (existsSync(target)) {
    const present = readdirSync(target).filter((name) => !name.startsWith('.'));
    if (present.length > 0) throw new CreateSiteError(`${target} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}); start a site in a new or empty folder`);
  }
  const manager = options.packageManager ?? detectPackageManager(target);
  const name = siteName(target);
  const files: Record<string, string> = {
    'package.json': packageJson(name),
    'fettle.config.ts': CONFIG,
    'inventory.conf': INVENTORY,
    'nodes/web1.json': NODE,
    'roles/base.ts': ROLE,
    '.gitignore': GITIGNORE,
    'README.md': readme(name, manager),
  };
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    writeFileSync(path.join(target, file), content, { flag: 'wx' });
  }
  log(`created the site ${name} in ${target}`);
  if (options.install !== false) {
    const [command, args] = addCommand(manager, SITE_DEPENDENCIES);
    log(`${command} ${args.join(' ')}`);
    const result = spawnSync(command, args, { cwd: target, stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) {
      throw new CreateSiteError(`'${command} ${args.join(' ')}' failed${result.error ? `: ${result.error.message}` : ` with exit code ${String(result.status)}`}; the files are written, run it again in ${target}`);
    }
  }
  const shown = path.relative(process.cwd(), target);
  log(`next: cd ${shown === '' ? '.' : shown.startsWith('..') ? target : shown} && ${runPrefix(manager)} validate   (README.md says what comes after)`);
  return { dir: target, packageManager: manager, files: Object.keys(files) };
}
