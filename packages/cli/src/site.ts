import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FettleError, Registry, parseOrThrow, selectHosts, z, type Host, type HostStore, type Plugin, type Role, type SecretStore, type SiteConfig } from '@fettle/core';

const CONFIG_NAMES = ['fettle.config.ts', 'fettle.config.mts', 'fettle.config.js', 'fettle.config.mjs'];

const siteSchema = z.strictObject({
  name: z.string().optional(),
  plugins: z.array(
    z.custom<Plugin>((value) => typeof value === 'object' && value !== null && typeof (value as Plugin).name === 'string', {
      message: 'expected a plugin object (the default export of a fettle plugin package)',
    }),
  ),
  hosts: z.custom<HostStore>((value) => typeof (value as HostStore | null)?.listHosts === 'function', {
    message: 'expected a HostStore (new MemoryHostStore({...}) or a host store plugin)',
  }),
  secrets: z
    .custom<SecretStore>((value) => typeof (value as SecretStore | null)?.get === 'function', { message: 'expected a SecretStore' })
    .optional(),
  roles: z.record(z.string(), z.custom<Role>((value) => typeof value === 'function', { message: 'expected a role function' })),
  concurrency: z.number().int().positive().optional(),
});

/** A loaded site: its config, registry and folder. */
export interface LoadedSite {
  readonly dir: string;
  readonly configPath: string;
  readonly config: SiteConfig;
  readonly registry: Registry;
  readonly hosts: HostStore;
  readonly secrets: SecretStore | undefined;
  listHosts(): Promise<readonly Host[]>;
  select(selector: string | undefined): Promise<Host[]>;
}

export function findConfig(dir: string): string {
  for (const name of CONFIG_NAMES) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new FettleError('E_SITE', `no site config in ${dir}`, {
    where: dir,
    expected: `one of ${CONFIG_NAMES.join(', ')}`,
    hint: 'run fettle in a site folder or pass --site DIR',
  });
}

/**
 * Compile the site's TypeScript config with esbuild (its own modules bundled, its
 * packages left external) into a temp module beside the config, so that node
 * resolves the site's dependencies and `import.meta.dirname` is the site folder.
 * A read-only site (an installed package) compiles into the OS temp folder's cache.
 */
async function compileConfig(configPath: string, dir: string): Promise<string> {
  if (configPath.endsWith('.js') || configPath.endsWith('.mjs')) return configPath;
  const { build } = await import('esbuild');
  const stamp = createHash('sha256').update(`${configPath}:${statSync(configPath).mtimeMs}:${process.hrtime.bigint()}`).digest('hex').slice(0, 12);
  const beside = path.join(dir, `.fettle-config-${stamp}.mjs`);
  const fallback = path.join(dir, 'node_modules', '.cache', 'fettle', `config-${stamp}.mjs`);
  let outfile = beside;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    mkdirSync(path.dirname(fallback), { recursive: true });
    outfile = fallback;
  }
  try {
    await build({
      entryPoints: [configPath],
      outfile,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      define: { 'import.meta.filename': JSON.stringify(configPath) },
    });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new FettleError('E_SITE', `cannot compile the site config: ${text}`, { where: configPath });
  }
  return outfile;
}

export async function loadSite(siteDir: string): Promise<LoadedSite> {
  const dir = path.resolve(siteDir);
  const configPath = findConfig(dir);
  const compiled = await compileConfig(configPath, dir);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(compiled).href)) as { default?: unknown };
  } catch (error) {
    if (error instanceof FettleError) throw error;
    throw new FettleError('E_SITE', `the site config failed to load: ${error instanceof Error ? error.message : String(error)}`, {
      where: configPath,
      cause: error,
    });
  } finally {
    if (compiled !== configPath) {
      const { rm } = await import('node:fs/promises');
      await rm(compiled, { force: true });
    }
  }
  if (module.default === undefined) {
    throw new FettleError('E_SITE', 'the site config has no default export', { where: configPath, expected: 'export default defineSite({ ... })' });
  }
  const config = parseOrThrow(siteSchema, module.default, 'E_SITE', configPath) as SiteConfig;
  const registry = new Registry(config.plugins);
  let hostsCache: Promise<readonly Host[]> | undefined;
  const listHosts = (): Promise<readonly Host[]> => (hostsCache ??= config.hosts.listHosts());
  return {
    dir,
    configPath,
    config,
    registry,
    hosts: config.hosts,
    secrets: config.secrets,
    listHosts,
    async select(selector) {
      return selectHosts(selector, await listHosts(), await config.hosts.listGroups());
    },
  };
}
