import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

// A V8 code cache for the CommonJS fettle loads (ssh2 and its dependencies, @fettle/core's
// implementation): every CommonJS module compiles through vm.Script with the cachedData the
// previous run left, so a run skips most of the parsing and compiling. bin.js installs it before
// main() runs any command (nothing before that loads CommonJS); it must stay tiny (it loads with
// `--help`) and touch the disk only when a module compiles.
//
// An entry is one file per module path, `<hash of the path>`: a magic, the hash of the source it was
// made from, the hash of the data, then V8's data. A changed source, a torn or garbage entry, or
// data V8 rejects (another node, other flags) is a miss: the module compiles as usual and its entry
// is written again. The hashes are CRC-32s (zlib's, as node's own compile cache on node 22 uses for
// the same three checks): sha1 of every source and entry cost a run more than the rest of the cache.
// A CRC guards against accident, not an adversary, and an accident is all there is to guard
// against: only this user writes the folder (0700). An edited file whose CRC and length (V8 checks
// the length itself) both match the old one is a 1 in 2^32 chance per edit, as with node's cache. Entries are written once per run, at exit (after the command's output), each to
// a temp file renamed into place, so two runs at once never see half an entry. The hash of the data
// is what makes an unsynced write harmless: a torn entry is read as a miss, never handed to V8.
// The cache holds compiled code only: the sources are the installed packages', never site data.
// A run that writes also removes what older caches left (pruneOld): other node versions' folders, old formats.

const MAGIC = Buffer.from('FTC2');
const HASH = 4; // CRC-32, big-endian
const HEADER = MAGIC.length + 2 * HASH;
/** Exit-time writing stops after this long; the rest is written by the next run. */
const WRITE_BUDGET_MS = 150;
/** Another node's cache folder nothing was written to for this long is removed (by a run that writes). */
const STALE_FOLDER_MS = 30 * 24 * 3600_000;
/** A temp entry this old belongs to a run that was killed while writing. */
const STALE_TEMP_MS = 10 * 60_000;

export interface CompileCacheStats {
  /** The cache folder, or undefined when there is none (turned off, nowhere writable, node's own). */
  dir: string | undefined;
  /** Modules compiled with cached data V8 accepted. */
  hits: number;
  /** Modules compiled without an entry (none, stale, garbage). */
  misses: number;
  /** Modules whose entry V8 refused. */
  rejected: number;
  /** Entries written at exit. */
  written: number;
}

interface Pending {
  entry: string;
  sourceHash: Buffer;
  script: vm.Script;
}

type Compile = (this: Module, content: string, filename: string, format?: string) => unknown;
interface ModuleInternals {
  prototype: { _compile: Compile };
  _resolveFilename(this: void, request: string, parent: Module, isMain: boolean, options?: { paths?: string[] }): string;
  _resolveLookupPaths(this: void, request: string, parent: Module): string[] | null;
  _extensions: unknown;
  _cache: unknown;
  wrap(this: void, source: string): string;
}

const internals = Module as unknown as ModuleInternals;
const stats: CompileCacheStats = { dir: undefined, hits: 0, misses: 0, rejected: 0, written: 0 };

/** What the compile cache did in this process so far. */
export function compileCacheStats(): CompileCacheStats {
  return { ...stats };
}

/** Where the cache may live for this node and architecture, in order: under $XDG_CACHE_HOME, under ~/.cache. */
export function compileCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const leaf = path.join('fettle', `compile-${process.version}-${process.arch}`);
  const roots = [env['XDG_CACHE_HOME'], safe(() => path.join(os.homedir(), '.cache'))].filter((root): root is string => Boolean(root));
  return roots.map((root) => path.join(root, leaf));
}

/**
 * Turns the cache on for this process, unless FETTLE_NO_COMPILE_CACHE=1. On node >= 22.1 node's
 * own cache (module.enableCompileCache, which covers ES modules too) is used instead.
 */
export function installCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  if (env['FETTLE_NO_COMPILE_CACHE'] === '1') return;
  const debug = env['FETTLE_COMPILE_CACHE_DEBUG'] === '1';
  const nodeOwn = (Module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (typeof nodeOwn === 'function') {
    const [dir] = compileCacheDirs(env);
    if (dir) safe(() => nodeOwn(dir));
    return;
  }
  const original = internals.prototype._compile;
  const pending: Pending[] = [];
  let folder: string | null | undefined; // undefined: not looked for yet; null: none writable

  internals.prototype._compile = function compileWithCache(content, filename, format) {
    // ES syntax, a hashbang (valid only at the very start of a script) and source maps (node maps a
    // module's stack frames only when it compiles the module itself) are left to node.
    if ((format !== undefined && format !== 'commonjs') || content.startsWith('#!') || process.sourceMapsEnabled) return original.call(this, content, filename, format);
    folder ??= writableFolder(env) ?? null;
    if (folder === null) return original.call(this, content, filename, format);
    stats.dir = folder;
    const entry = path.join(folder, entryName(filename));
    const sourceHash = crc32(content);
    const cachedData = readEntry(entry, sourceHash);
    let script: vm.Script;
    try {
      script = new vm.Script(internals.wrap(content), {
        filename,
        ...(cachedData ? { cachedData } : {}),
        importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
      });
    } catch {
      // Not plain CommonJS (ES module syntax node would detect, say): node's own path decides.
      return original.call(this, content, filename, format);
    }
    if (!cachedData) stats.misses++;
    else if (script.cachedDataRejected === true) stats.rejected++;
    else stats.hits++;
    if (!cachedData || script.cachedDataRejected === true) pending.push({ entry, sourceHash, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(this), this, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    safe(() => writeEntries(pending));
    // Only a run that had to write looks for old caches: a warm run touches nothing more.
    const written = pending[0];
    if (written) safe(() => pruneOld(path.dirname(written.entry)));
    if (debug) process.stderr.write(`fettle compile cache: ${JSON.stringify(stats)}\n`);
  });
}

/** `require` for a module compiled here, as node builds it for its own. */
function requireFor(module: Module): NodeJS.Require {
  const require = ((id: string): unknown => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => internals._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => internals._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = internals._extensions as NodeJS.RequireExtensions;
  require.cache = internals._cache as NodeJS.Dict<NodeJS.Module>;
  return require;
}

/** The first cache folder that exists or can be made, and can be written; none is no cache. */
function writableFolder(env: NodeJS.ProcessEnv): string | undefined {
  return compileCacheDirs(env).find((dir) =>
    safe(() => {
      // Only this user may write here: V8 runs what an entry holds, trusting it as its own output.
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.accessSync(dir, fs.constants.W_OK);
      return true;
    }),
  );
}

/** The cached data of an entry made from this very source, or undefined (none, stale, torn, garbage). */
function readEntry(entry: string, sourceHash: Buffer): Buffer | undefined {
  const bytes = safe(() => fs.readFileSync(entry));
  if (!bytes || bytes.length <= HEADER) return undefined;
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC) || !bytes.subarray(MAGIC.length, MAGIC.length + HASH).equals(sourceHash)) return undefined;
  const data = bytes.subarray(HEADER);
  return crc32(data).equals(bytes.subarray(MAGIC.length + HASH, HEADER)) ? data : undefined;
}

/** Writes the new entries (data V8 made from what this run compiled and ran), within the budget. */
function writeEntries(pending: readonly Pending[]): void {
  const started = performance.now();
  for (const { entry, sourceHash, script } of pending) {
    if (performance.now() - started > WRITE_BUDGET_MS) return;
    const data = script.createCachedData();
    const temp = `${entry}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const ok = safe(() => {
      fs.writeFileSync(temp, Buffer.concat([MAGIC, sourceHash, crc32(data), data]), { mode: 0o644 });
      fs.renameSync(temp, entry);
      return true;
    });
    if (ok) stats.written++;
    else safe(() => fs.rmSync(temp, { force: true }));
  }
}

/**
 * What older caches left: the folders of other node versions nothing was written to for 30 days
 * (a node upgrade leaves one behind each time), entries named by the former format (sha1, 40 hex
 * digits: never read again), and temp entries of runs killed while writing.
 */
function pruneOld(folder: string): void {
  const now = Date.now();
  const parent = path.dirname(folder);
  for (const name of safe(() => fs.readdirSync(parent)) ?? []) {
    const dir = path.join(parent, name);
    if (!name.startsWith('compile-v') || dir === folder) continue;
    const changed = safe(() => fs.statSync(dir).mtimeMs);
    if (changed !== undefined && now - changed > STALE_FOLDER_MS) safe(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
  for (const name of safe(() => fs.readdirSync(folder)) ?? []) {
    if (name.length === 2 * HASH) continue; // a current entry
    const file = path.join(folder, name);
    if (/^[0-9a-f]{40}$/.test(name)) safe(() => fs.rmSync(file, { force: true }));
    else if (name.endsWith('.tmp') && now - (safe(() => fs.statSync(file).mtimeMs) ?? now) > STALE_TEMP_MS) safe(() => fs.rmSync(file, { force: true }));
  }
}

/** An entry's file name: the CRC-32 of the module's path, in hex (two paths sharing one only take turns). */
export function entryName(filename: string): string {
  return crc32(filename).toString('hex');
}

/** The CRC-32 of a source (as UTF-8) or of bytes, as 4 big-endian bytes. */
export function crc32(data: string | Buffer): Buffer {
  const header = Buffer.allocUnsafe(HASH);
  header.writeUInt32BE(process.getBuiltinModule('node:zlib').crc32(data));
  return header;
}

/** The value of `f`, or undefined if it throws: the cache never makes a run fail. */
function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
