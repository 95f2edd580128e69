import { existsSync } from 'node:fs';
import path from 'node:path';

export type PackageManager = 'npm' | 'pnpm' | 'yarn';

/**
 * The package manager that ran us, from `npm_config_user_agent` (`pnpm/10.3.0 npm/? node/v20…`),
 * which npm, pnpm and yarn all set for the scripts and `create` packages they run.
 */
export function packageManagerFromAgent(agent: string | undefined): PackageManager | undefined {
  const name = agent?.split('/')[0];
  return name === 'pnpm' || name === 'yarn' || name === 'npm' ? name : undefined;
}

/** The site's package manager: its lockfile says, else whoever ran us, else npm. */
export function detectPackageManager(dir: string, agent = process.env['npm_config_user_agent']): PackageManager {
  if (existsSync(path.join(dir, 'pnpm-lock.yaml'))) return 'pnpm';
  if (existsSync(path.join(dir, 'yarn.lock'))) return 'yarn';
  if (existsSync(path.join(dir, 'package-lock.json'))) return 'npm';
  return packageManagerFromAgent(agent) ?? 'npm';
}

/** argv that adds packages to the site's dependencies. */
export function addCommand(manager: PackageManager, packages: readonly string[]): [string, string[]] {
  switch (manager) {
    case 'pnpm':
      return ['pnpm', ['add', ...packages]];
    case 'yarn':
      return ['yarn', ['add', ...packages]];
    case 'npm':
      return ['npm', ['install', '--save', ...packages]];
  }
}

/** argv that removes packages from the site's dependencies. */
export function removeCommand(manager: PackageManager, packages: readonly string[]): [string, string[]] {
  return manager === 'npm' ? ['npm', ['uninstall', ...packages]] : [manager, ['remove', ...packages]];
}

/** How the user runs `fettle` in the site. */
export function runPrefix(manager: PackageManager): string {
  return manager === 'npm' ? 'npx fettle' : `${manager} fettle`;
}
