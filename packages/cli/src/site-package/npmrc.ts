import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where a package comes from and how to authenticate there, as npm would decide. */
export interface RegistryAccess {
  /** Ends with `/`. */
  readonly url: string;
  readonly token?: string | undefined;
}

const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

function readIni(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const equals = line.indexOf('=');
    if (equals <= 0) continue;
    // ${VAR} as npm expands it, so a token can stay in the environment.
    values[line.slice(0, equals).trim()] = line.slice(equals + 1).trim().replace(/\$\{([^}]+)\}/g, (_, name: string) => process.env[name] ?? '');
  }
  return values;
}

/**
 * The registry and token for a package from the user's npm config, the way npm
 * reads it (a subset): `--registry`, then `npm_config_registry`, then the
 * package's `@scope:registry`, then `registry`, from the project `.npmrc` in
 * `cwd` and the user's (`$npm_config_userconfig`, else `~/.npmrc`); the token is
 * the `//host/path/:_authToken` that prefixes the registry URL. Read by fettle
 * itself, so a node needs no npm.
 */
export function registryAccess(packageName: string, options: { registry?: string | undefined; cwd?: string | undefined } = {}): RegistryAccess {
  const userConfig = process.env['npm_config_userconfig'] ?? process.env['NPM_CONFIG_USERCONFIG'] ?? path.join(os.homedir(), '.npmrc');
  const config = { ...readIni(userConfig), ...(options.cwd ? readIni(path.join(options.cwd, '.npmrc')) : {}) };
  const scope = packageName.startsWith('@') ? packageName.slice(0, packageName.indexOf('/')) : undefined;
  let url = options.registry ?? process.env['npm_config_registry'] ?? process.env['NPM_CONFIG_REGISTRY'] ?? (scope ? config[`${scope}:registry`] : undefined) ?? config['registry'] ?? DEFAULT_REGISTRY;
  if (!url.endsWith('/')) url += '/';
  const bare = url.replace(/^https?:/, '');
  let token: string | undefined;
  // The longest `//host/path/:_authToken` key that the registry URL starts with.
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith(':_authToken')) continue;
    const prefix = key.slice(0, -':_authToken'.length);
    if (bare.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) && value) token = value;
  }
  return { url, token };
}
