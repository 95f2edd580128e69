import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32, entryName, type CompileCacheStats } from './compile-cache.js';
import { bin, example, removedAfterAll, sitesRoot } from './test-sites.js';

// The code cache, for real: node processes that install it (compile-cache.ts, bundled as bin.js
// bundles it) and then require or import CommonJS files, with the cache in a fresh folder.

const made = removedAfterAll();
const here = path.dirname(fileURLToPath(import.meta.url));
const MODULES = ['a', 'b', 'c', 'd', 'e', 'f'];
let hook: string;

beforeAll(() => {
  const dir = mkdtempSync(path.join(sitesRoot, 'compile-cache-hook-'));
  made.push(dir);
  hook = path.join(dir, 'compile-cache.mjs');
  buildSync({ entryPoints: [path.join(here, 'compile-cache.ts')], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile: hook, logLevel: 'silent' });
});

interface World {
  dir: string;
  cache: string;
  entries: string;
  env: NodeJS.ProcessEnv;
}

/** A folder of CommonJS modules (a chain of requires, and one imported from ES), a driver and a cache folder. */
function world(): World {
  const dir = mkdtempSync(path.join(sitesRoot, 'compile-cache-'));
  made.push(dir);
  mkdirSync(path.join(dir, 'lib'));
  // a requires b … e; f is reached only by an ES import, through node's CommonJS translator.
  MODULES.forEach((name, i) => writeModule(dir, name, name < 'e' ? MODULES[i + 1] : undefined));
  writeFileSync(
    path.join(dir, 'driver.mjs'),
    `import { installCompileCache } from ${JSON.stringify(hook)};
installCompileCache();
const { createRequire } = await import('node:module');
const a = createRequire(import.meta.url)('./lib/a.cjs');
const { chain, file } = await import('./lib/f.cjs');
console.log(JSON.stringify({ a: a.chain(), f: chain(), file }));
`,
  );
  const cache = path.join(dir, 'xdg');
  return { dir, cache, entries: path.join(cache, 'fettle', `compile-${process.version}-${process.arch}`), env: { ...process.env, XDG_CACHE_HOME: cache, HOME: dir, FETTLE_COMPILE_CACHE_DEBUG: '1' } };
}

function writeModule(dir: string, name: string, next: string | undefined, tag = name): void {
  const body = next ? `exports.chain = () => ${JSON.stringify(tag)} + require('./${next}.cjs').chain();` : `exports.chain = () => ${JSON.stringify(tag)};`;
  writeFileSync(path.join(dir, 'lib', `${name}.cjs`), `'use strict';\n${body}\nexports.file = __filename;\n`);
}

interface Run {
  code: number | null;
  out: { a: string; f: string; file: string };
  stats: CompileCacheStats;
  stderr: string;
}

function parse(code: number | null, stdout: string, stderr: string): Run {
  const line = stderr.split('\n').find((l) => l.startsWith('fettle compile cache: '));
  expect(line, stderr).toBeDefined();
  return { code, out: JSON.parse(stdout) as Run['out'], stats: JSON.parse(line!.slice('fettle compile cache: '.length)) as CompileCacheStats, stderr };
}

function run(w: World, env: NodeJS.ProcessEnv = {}): Run {
  const result = spawnSync(process.execPath, [path.join(w.dir, 'driver.mjs')], { encoding: 'utf8', env: { ...w.env, ...env } });
  return parse(result.status, result.stdout, result.stderr);
}

function runAsync(w: World): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(w.dir, 'driver.mjs')], { env: w.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(parse(code, stdout, stderr)));
  });
}

const entryOf = (w: World, name: string) => path.join(w.entries, entryName(path.join(w.dir, 'lib', `${name}.cjs`)));
const expected = { a: 'abcde', f: 'f' };

describe('the compile cache', () => {
  it('is made on the first run and used on the second, through require and through import', () => {
    const w = world();
    const first = run(w);
    expect(first.code, first.stderr).toBe(0);
    expect(first.out).toMatchObject(expected);
    expect(first.out.file).toBe(path.join(w.dir, 'lib', 'f.cjs'));
    expect(first.stats).toEqual({ dir: w.entries, hits: 0, misses: 6, rejected: 0, written: 6 });
    // f.cjs among them: an ES import of CommonJS compiles through the cache too.
    expect(readdirSync(w.entries).sort()).toEqual(MODULES.map((m) => path.basename(entryOf(w, m))).sort());
    // Folders it makes are the user's alone (V8 trusts what an entry holds).
    expect(statSync(w.entries).mode & 0o777).toBe(0o700);
    expect(statSync(path.dirname(w.entries)).mode & 0o777).toBe(0o700);

    const second = run(w);
    expect(second.code).toBe(0);
    expect(second.out).toMatchObject(expected);
    expect(second.stats).toEqual({ dir: w.entries, hits: 6, misses: 0, rejected: 0, written: 0 });
  });

  it('recompiles a changed file and replaces its entry, and only its entry', () => {
    const w = world();
    run(w);
    const before = readFileSync(entryOf(w, 'c'));
    const other = readFileSync(entryOf(w, 'd'));
    writeModule(w.dir, 'c', 'd', 'C');
    const changed = run(w);
    expect(changed.out.a).toBe('abCde');
    expect(changed.stats).toMatchObject({ hits: 5, misses: 1, rejected: 0, written: 1 });
    const after = readFileSync(entryOf(w, 'c'));
    expect(after.equals(before)).toBe(false);
    expect(after.subarray(4, 8).equals(crc32(readFileSync(path.join(w.dir, 'lib', 'c.cjs'), 'utf8')))).toBe(true);
    expect(readFileSync(entryOf(w, 'd')).equals(other)).toBe(true);
    expect(run(w).stats).toMatchObject({ hits: 6, misses: 0, written: 0 });
  });

  it('ignores a truncated or garbage entry and writes it again; data V8 refuses is written again', () => {
    const w = world();
    run(w);
    truncateSync(entryOf(w, 'a'), 30);
    writeFileSync(entryOf(w, 'b'), Buffer.from('not an entry at all, just bytes'.repeat(20)));
    const torn = readFileSync(entryOf(w, 'c'));
    writeFileSync(entryOf(w, 'c'), Buffer.concat([torn.subarray(0, 12), Buffer.alloc(torn.length - 12)])); // header intact, data zeroed
    const junk = Buffer.from('V8 will not take this as code cache'.repeat(10));
    const source = readFileSync(path.join(w.dir, 'lib', 'd.cjs'), 'utf8');
    writeFileSync(entryOf(w, 'd'), Buffer.concat([Buffer.from('FTC2'), crc32(source), crc32(junk), junk])); // a well-formed entry V8 rejects

    const repaired = run(w);
    expect(repaired.code).toBe(0);
    expect(repaired.out).toMatchObject(expected);
    expect(repaired.stats).toMatchObject({ hits: 2, misses: 3, rejected: 1, written: 4 });
    expect(run(w).stats).toMatchObject({ hits: 6, misses: 0, rejected: 0, written: 0 });
  });

  it('is harmless when no cache folder can be written: the run works, nothing is cached', () => {
    const w = world();
    const file = path.join(w.dir, 'a-file');
    writeFileSync(file, '');
    // A regular file where the folders would go: not writable even for root.
    const result = run(w, { XDG_CACHE_HOME: file, HOME: file });
    expect(result.code, result.stderr).toBe(0);
    expect(result.out).toMatchObject(expected);
    expect(result.stats).toEqual({ hits: 0, misses: 0, rejected: 0, written: 0 });
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('falls back to ~/.cache when $XDG_CACHE_HOME is not set', () => {
    const w = world();
    const result = run(w, { XDG_CACHE_HOME: '' });
    expect(result.stats).toMatchObject({ dir: path.join(w.dir, '.cache', 'fettle', `compile-${process.version}-${process.arch}`), written: 6 });
  });

  it('leaves modules to node when source maps are on (node maps only what it compiles)', () => {
    const w = world();
    const result = run(w, { NODE_OPTIONS: '--enable-source-maps' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.out).toMatchObject(expected);
    expect(result.stats).toMatchObject({ hits: 0, misses: 0, written: 0 });
  });

  it('FETTLE_NO_COMPILE_CACHE=1 writes nothing', () => {
    const w = world();
    const result = spawnSync(process.execPath, [path.join(w.dir, 'driver.mjs')], { encoding: 'utf8', env: { ...w.env, FETTLE_NO_COMPILE_CACHE: '1' } });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject(expected);
    expect(result.stderr).toBe('');
    expect(existsSync(w.cache)).toBe(false);
    expect(existsSync(path.join(w.dir, '.cache'))).toBe(false);
  });

  it("a run that writes removes what older caches left: another node's folder untouched for 30 days, sha1-named entries, a killed run's temp entry; a warm run removes nothing", () => {
    const w = world();
    const fettleDir = path.dirname(w.entries);
    const ago = (days: number): Date => new Date(Date.now() - days * 24 * 3600_000);
    const folderWith = (name: string, days: number): string => {
      const dir = path.join(fettleDir, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'deadbeef'), 'old data');
      utimesSync(dir, ago(days), ago(days));
      return dir;
    };
    const abandoned = folderWith('compile-v18.19.0-x64', 40);
    const recent = folderWith('compile-v21.7.3-x64', 3);
    mkdirSync(w.entries, { recursive: true });
    const sha1Entry = path.join(w.entries, 'a'.repeat(40));
    writeFileSync(sha1Entry, 'FTC1 entry');
    const killedTemp = path.join(w.entries, `${'b'.repeat(8)}.4242.x1y2.tmp`);
    writeFileSync(killedTemp, 'half an entry');
    utimesSync(killedTemp, ago(1), ago(1));
    const freshTemp = path.join(w.entries, `${'c'.repeat(8)}.4343.z9.tmp`);
    writeFileSync(freshTemp, 'another run is writing this');
    const unrelated = path.join(fettleDir, 'notes.txt');
    writeFileSync(unrelated, 'not ours to remove');

    const first = run(w);
    expect(first.stats.written).toBe(MODULES.length);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(path.join(recent, 'deadbeef'))).toBe(true);
    expect(existsSync(sha1Entry)).toBe(false);
    expect(existsSync(killedTemp)).toBe(false);
    expect(existsSync(freshTemp)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
    for (const name of MODULES) expect(existsSync(entryOf(w, name)), name).toBe(true);

    // A warm run writes nothing, so it looks at nothing: a folder made stale now stays until the next write.
    const staleNow = folderWith('compile-v16.20.2-x64', 60);
    const second = run(w);
    expect(second.stats).toMatchObject({ hits: MODULES.length, misses: 0, written: 0 });
    expect(existsSync(staleNow)).toBe(true);
  });

  it('two runs at once leave whole entries and no temp files', async () => {
    const w = world();
    const want = { ...expected };
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all([runAsync(w), runAsync(w)]);
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.out).toMatchObject(want);
        expect(r.stats.rejected).toBe(0);
      }
      expect(readdirSync(w.entries).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      writeModule(w.dir, 'e', undefined, round % 2 ? 'e' : 'E'); // a change each round: both runs rewrite that entry at once
      want.a = round % 2 ? 'abcde' : 'abcdE';
    }
    const last = run(w);
    expect(last.stats).toMatchObject({ misses: 1, rejected: 0 });
    expect(run(w).stats).toMatchObject({ hits: 6, misses: 0, rejected: 0, written: 0 });
  });
});

describe('the compile cache in fettle itself', () => {
  it('covers @fettle/core: a run writes its entry, the next run compiles nothing', () => {
    const dir = mkdtempSync(path.join(sitesRoot, 'compile-cache-site-'));
    made.push(dir);
    for (const entry of ['fettle.config.ts', 'roles', 'items']) cpSync(path.join(example, entry), path.join(dir, entry), { recursive: true });
    const cache = path.join(dir, 'xdg');
    const fettle = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [bin, 'hosts', '--site', dir, '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', XDG_CACHE_HOME: cache, ...env } });
    const statsOf = (stderr: string) => JSON.parse(stderr.trim().replace(/^fettle compile cache: /, '')) as CompileCacheStats;

    const first = fettle({ FETTLE_COMPILE_CACHE_DEBUG: '1' });
    expect(first.status, first.stderr).toBe(0);
    const made1 = statsOf(first.stderr);
    expect(made1.misses).toBeGreaterThan(0);
    expect(made1).toMatchObject({ hits: 0, rejected: 0, written: made1.misses });
    const core = realpathSync(path.resolve(here, '../../core/dist/core.cjs'));
    expect(existsSync(path.join(made1.dir!, entryName(core)))).toBe(true);

    const second = fettle({ FETTLE_COMPILE_CACHE_DEBUG: '1' });
    expect(second.status).toBe(0);
    // The second run loads less (the site's compiled config is cached, so esbuild stays unloaded):
    // whatever it compiles, it finds in the cache.
    const used = statsOf(second.stderr);
    expect(used).toMatchObject({ misses: 0, rejected: 0, written: 0 });
    expect(used.hits).toBeGreaterThan(0);
    // Same output with or without it.
    const without = fettle({ FETTLE_NO_COMPILE_CACHE: '1' });
    expect(without.stderr).toBe('');
    expect(second.stdout).toBe(without.stdout);
    expect(first.stdout).toBe(without.stdout);
  });
});
