import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin as EsbuildPlugin } from 'esbuild';
import { FettleError, isFettleError, Registry, writeFileAtomic, parseOrThrow, selectHosts, z, type Host, type HostStore, type Plugin, type Role, type SecretStore, type SiteConfig, type StoreSpec } from '@fettle/core/engine';

const CONFIG_NAMES = ['fettle.config.ts', 'fettle.config.mts', 'fettle.config.js', 'fettle.config.mjs'];

/** A store named as data, resolved through the plugins' `hostStores`/`secretStores`. */
const storeSpecSchema = z.strictObject({ store: z.string().min(1), options: z.unknown().optional() });

const siteSchema = z.strictObject({
  name: z.string().optional(),
  plugins: z.array(
    z.custom<Plugin>((value) => typeof value === 'object' && value !== null && typeof (value as Plugin).name === 'string', {
      message: 'expected a plugin object (the default export of a fettle plugin package)',
    }),
  ),
  hosts: z.union([
    z.custom<HostStore>((value) => typeof (value as HostStore | null)?.listHosts === 'function', {
      message: 'expected a HostStore (new MemoryHostStore({...}) or a host store plugin)',
    }),
    storeSpecSchema,
  ]),
  secrets: z
    .union([z.custom<SecretStore>((value) => typeof (value as SecretStore | null)?.get === 'function', { message: 'expected a SecretStore' }), storeSpecSchema])
    .optional(),
  roles: z.record(z.string(), z.custom<Role>((value) => typeof value === 'function', { message: 'expected a role function' })),
  concurrency: z.number().int().positive().optional(),
});

/** A loaded site: its config, registry and folder. */
export interface LoadedSite {
  readonly dir: string;
  readonly configPath: string;
  readonly config: SiteConfig;
  /** Every export of the config module (`mintVersion`, say), besides the default one. */
  readonly exports: Readonly<Record<string, unknown>>;
  readonly registry: Registry;
  readonly hosts: HostStore;
  readonly secrets: SecretStore | undefined;
  listHosts(): Promise<readonly Host[]>;
  select(selector: string | undefined): Promise<Host[]>;
  /** `file:line` in the site's sources of a role, or of the line that threw `error` inside it. */
  locateRole(role: string, error?: unknown): string | undefined;
}

/** A site compiled into the program (a site bundle): its name, version and loader. */
export interface BuiltInSite {
  readonly name: string;
  readonly version: string;
  load(): Promise<LoadedSite>;
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

/** Bump when the compile options or the cache layout change: older entries are then ignored. */
const CACHE_FORMAT = 'fettle-config-cache-2';
/** Files that change how esbuild compiles or resolves without being bundled inputs themselves. */
const SETTINGS_FILES = ['tsconfig.json', 'package.json'];

interface CacheManifest {
  readonly format: string;
  /** File name of the compiled module, in the cache folder. */
  readonly output: string;
  /** Every bundled input and settings file, relative to the site folder, with the sha256 of its content ('' when absent). */
  readonly inputs: Record<string, string>;
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function hashFile(file: string): string {
  try {
    return sha256(readFileSync(file));
  } catch {
    return '';
  }
}

/** The cached compile of this config, if every input still has the content it was compiled from. */
function cachedCompile(manifestPath: string, cacheDir: string, dir: string): string | undefined {
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CacheManifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== CACHE_FORMAT || typeof manifest.output !== 'string' || typeof manifest.inputs !== 'object') return undefined;
  for (const [input, hash] of Object.entries(manifest.inputs)) {
    if (hashFile(path.resolve(dir, input)) !== hash) return undefined;
  }
  const output = path.join(cacheDir, path.basename(manifest.output));
  return existsSync(output) ? output : undefined;
}

/**
 * A CommonJS file that bundled code imports (a plugin the config imports by path, such as
 * transport-ssh's dist/ssh2-parts.cjs) stays where it is, imported by its absolute path: inlined
 * into the ES output, its `require`s of packages (left external) would have no `require` to call.
 * node loads it as CommonJS, and it resolves its own requires from its own folder.
 */
const commonJsInPlace: EsbuildPlugin = {
  name: 'commonjs-in-place',
  setup(build) {
    build.onResolve({ filter: /\.cjs$/ }, (args) =>
      args.kind === 'import-statement' && args.path.startsWith('.') ? { path: path.resolve(args.resolveDir, args.path), external: true } : undefined,
    );
  },
};

/**
 * Compile the site's TypeScript config with esbuild (its own modules bundled, its
 * packages left external) into `node_modules/.cache/fettle/` of the site, from where
 * node resolves the site's dependencies as it would from the site folder; `import.meta`
 * url, dirname and filename are those of the config itself.
 *
 * The compiled module is kept, keyed by the sha256 of every bundled input (plus the
 * site's tsconfig.json and package.json): a run whose inputs are unchanged imports it
 * without loading esbuild at all.
 */
async function compileConfig(configPath: string, dir: string): Promise<string> {
  if (configPath.endsWith('.js') || configPath.endsWith('.mjs')) return configPath;
  const cacheDir = path.join(dir, 'node_modules', '.cache', 'fettle');
  const key = `config-${sha256(`${CACHE_FORMAT}\0${configPath}`).slice(0, 16)}`;
  const manifestPath = path.join(cacheDir, `${key}.json`);
  const cached = cachedCompile(manifestPath, cacheDir, dir);
  if (cached) return cached;

  const { build } = await import('esbuild');
  const started = Date.now();
  let result: Awaited<ReturnType<typeof build<{ write: false; metafile: true }>>>;
  try {
    result = await build({
      entryPoints: [configPath],
      // Only names the output for the source map's relative paths; nothing is written by esbuild.
      outfile: path.join(cacheDir, `${key}.mjs`),
      write: false,
      metafile: true,
      absWorkingDir: dir,
      bundle: true,
      packages: 'external',
      plugins: [commonJsInPlace],
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'silent',
      define: {
        'import.meta.url': JSON.stringify(pathToFileURL(configPath).href),
        'import.meta.dirname': JSON.stringify(dir),
        'import.meta.filename': JSON.stringify(configPath),
      },
    });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new FettleError('E_SITE', `cannot compile the site config: ${text}`, { where: configPath });
  }
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const output = `${key}-${sha256(code).slice(0, 16)}.mjs`;
  const inputs: Record<string, string> = {};
  let editedMeanwhile = false;
  for (const input of [...Object.keys(result.metafile.inputs), ...SETTINGS_FILES]) {
    const file = path.resolve(dir, input);
    inputs[input] = hashFile(file);
    if (existsSync(file) && statSync(file).mtimeMs >= started) editedMeanwhile = true;
  }
  try {
    mkdirSync(cacheDir, { recursive: true });
    await writeFileAtomic(path.join(cacheDir, output), code);
    // An input edited during the compile may not be what was compiled: use it this once, cache nothing.
    if (!editedMeanwhile) await writeFileAtomic(manifestPath, `${JSON.stringify({ format: CACHE_FORMAT, output, inputs } satisfies CacheManifest)}\n`);
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(`${key}-`) && name.endsWith('.mjs') && name !== output) rmSync(path.join(cacheDir, name), { force: true });
    }
  } catch (error) {
    throw new FettleError('E_SITE', `cannot write the compiled site config: ${error instanceof Error ? error.message : String(error)}`, {
      where: cacheDir,
      hint: 'fettle keeps the compiled fettle.config.ts in the site\'s node_modules/.cache/fettle; make it writable, or write the config as fettle.config.mjs',
    });
  }
  return path.join(cacheDir, output);
}

const FRAME = /\(?((?:file:\/\/)?\/[^()\n]*?):(\d+):(\d+)\)?$/;
const COMPILED_DIR = `${path.sep}.cache${path.sep}fettle${path.sep}`;

/** A position in the site's sources: compiled positions go back through the source map, site files stay. */
function sitePlace(file: string, line: number, column: number, dir: string): string | undefined {
  if (file.includes(COMPILED_DIR)) {
    const entry = findSourceMap(file)?.findEntry(line - 1, column - 1);
    if (!entry || !('originalSource' in entry)) return undefined;
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
    return sitePlace(source, entry.originalLine + 1, entry.originalColumn + 1, dir);
  }
  const relative = path.relative(dir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative) || relative.split(path.sep).includes('node_modules')) return undefined;
  return `${relative}:${line}`;
}

/** The first stack frame of an error that lies in the site's own files, as `file:line`. */
function siteFrame(error: unknown, dir: string): string | undefined {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  for (const line of stack.split('\n').slice(1)) {
    const match = FRAME.exec(line.trim());
    if (!match?.[1]) continue;
    const file = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    const place = sitePlace(file, Number(match[2]), Number(match[3]), dir);
    if (place) return place;
  }
  return undefined;
}

/**
 * Where a function is defined in the site's sources: its text is found in the
 * compiled module, and that position mapped back through the inline source map.
 */
function functionPlace(fn: unknown, compiled: string, dir: string): string | undefined {
  if (typeof fn !== 'function') return undefined;
  let code: string;
  try {
    code = readFileSync(compiled, 'utf8');
  } catch {
    return undefined;
  }
  const index = code.indexOf(Function.prototype.toString.call(fn));
  if (index < 0) return undefined;
  const before = code.slice(0, index);
  const line = before.split('\n').length - 1;
  const column = index - before.lastIndexOf('\n') - 1;
  // A .mjs config is not compiled: its own lines are the source.
  return sitePlace(compiled, line + 1, column + 1, dir);
}

export async function loadSite(siteDir: string): Promise<LoadedSite> {
  const dir = path.resolve(siteDir);
  const configPath = findConfig(dir);
  const compiled = await compileConfig(configPath, dir);
  // Stacks of errors thrown in roles then point at the site's .ts lines, not the compiled cache. Only
  // for a compiled config: source maps on make node look for a map in every module loaded after, and
  // in every stack it formats, which a .mjs config never needs.
  if (compiled !== configPath) process.setSourceMapsEnabled(true);
  let module: Readonly<Record<string, unknown>>;
  try {
    module = (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
  } catch (error) {
    // isFettleError, not instanceof: a plugin may bring its own copy of @fettle/core.
    if (isFettleError(error)) throw error;
    throw new FettleError('E_SITE', `the site config failed to load: ${error instanceof Error ? error.message : String(error)}`, {
      where: siteFrame(error, dir) ?? configPath,
      cause: error,
    });
  }
  return await siteFromModule(dir, configPath, module, compiled);
}

/** A site from its config module, already imported (by `loadSite`, or bundled into a site bundle). */
export async function siteFromModule(dir: string, configPath: string, module: Readonly<Record<string, unknown>>, compiled?: string): Promise<LoadedSite> {
  if (module['default'] === undefined) {
    throw new FettleError('E_SITE', 'the site config has no default export', { where: configPath, expected: 'export default defineSite({ ... })' });
  }
  const definition = parseOrThrow(siteSchema, module['default'], 'E_SITE', configPath);
  const registry = new Registry(definition.plugins);
  const config: SiteConfig = {
    ...(definition as SiteConfig),
    hosts: await resolveStore(definition.hosts, 'host', registry, dir, configPath),
    secrets: definition.secrets === undefined ? undefined : await resolveStore(definition.secrets, 'secret', registry, dir, configPath),
  };
  let hostsCache: Promise<readonly Host[]> | undefined;
  const rolePlaces = new Map<string, string | undefined>();
  const listHosts = (): Promise<readonly Host[]> => (hostsCache ??= config.hosts.listHosts());
  return {
    dir,
    configPath,
    config,
    exports: module,
    registry,
    hosts: config.hosts,
    secrets: config.secrets,
    listHosts,
    async select(selector) {
      return selectHosts(selector, await listHosts(), await config.hosts.listGroups());
    },
    locateRole(role, error) {
      const thrownAt = error === undefined ? undefined : siteFrame(error, dir);
      if (thrownAt) return thrownAt;
      if (!rolePlaces.has(role)) rolePlaces.set(role, compiled === undefined ? undefined : functionPlace(config.roles[role], compiled, dir));
      return rolePlaces.get(role);
    },
  };
}

type StoreKind = 'host' | 'secret';
type StoreOf<K extends StoreKind> = K extends 'host' ? HostStore : SecretStore;

/** A store object as it is, or one named as data made by the plugin that provides it. */
async function resolveStore<K extends StoreKind>(value: StoreOf<K> | StoreSpec, kind: K, registry: Registry, dir: string, configPath: string): Promise<StoreOf<K>> {
  if (!isStoreSpec(value)) return value;
  const definition = kind === 'host' ? registry.hostStore(value.store) : registry.secretStore(value.store);
  if (!definition) {
    const known = kind === 'host' ? registry.hostStoreNames : registry.secretStoreNames;
    throw new FettleError('E_SITE', `no ${kind} store named ${JSON.stringify(value.store)} among the site's plugins`, {
      where: `${configPath}: ${kind === 'host' ? 'hosts' : 'secrets'}.store`,
      expected: known.length > 0 ? `one of ${known.join(', ')}` : `a plugin providing ${kind} stores in plugins`,
      hint: `add the plugin that provides it (fettle add …) to plugins, or build the store in fettle.config.ts`,
    });
  }
  return (await definition.create(value.options, { siteDir: dir })) as StoreOf<K>;
}

function isStoreSpec(value: unknown): value is StoreSpec {
  return typeof value === 'object' && value !== null && typeof (value as StoreSpec).store === 'string';
}
