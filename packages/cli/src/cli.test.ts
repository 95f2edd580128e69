import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, example, removedAfterAll, sitesRoot } from './test-sites.js';

const made = removedAfterAll();

function fettle(args: string[], options: { input?: string } = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input: options.input, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function copyExample(): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'basic-'));
  made.push(dir);
  for (const entry of ['fettle.config.ts', 'roles', 'items']) cpSync(path.join(example, entry), path.join(dir, entry), { recursive: true });
  return dir;
}

function site(config: string): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'site-'));
  made.push(dir);
  writeFileSync(path.join(dir, 'fettle.config.ts'), config);
  return dir;
}

const header = `import { MemoryHostStore, defineSite, definePlugin, defineItemType, z } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
`;

function simpleSite(items: string, extra = '', hosts = `{ web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }`): string {
  return site(`${header}${extra}
export default defineSite({
  plugins: [files, local${extra ? ', extraPlugin' : ''}],
  hosts: new MemoryHostStore({ hosts: ${hosts}, groups: { web: ['web1'] }, defaultRoles: ['base'] }),
  roles: { base: () => (${items}) },
});
`);
}

describe('fettle on examples/site-basic', () => {
  const dir = copyExample();
  const motd = path.join(dir, 'sandbox/node1/etc/fettle-demo/motd');

  it('applies everything, then a second apply changes and writes nothing', () => {
    const first = fettle(['apply', '--site', dir, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const run = JSON.parse(first.stdout) as { summary: Record<string, number>; hosts: { host: string; roundTrips: { fileWrites: number } }[] };
    expect(run.summary).toEqual({ changed: 14, wouldChange: 0, ifTriggered: 0, drift: 0, ok: 0, failed: 0, skipped: 0, unreachable: 0, hosts: 2 });
    expect(readFileSync(motd, 'utf8')).toContain('Hello from node1, this is node1.');
    const before = statSync(motd).mtimeMs;

    const second = fettle(['apply', '--site', dir, '--json']);
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout) as typeof run;
    expect(again.summary).toMatchObject({ changed: 0, ok: 14, failed: 0 });
    expect(again.hosts.map((h) => h.roundTrips.fileWrites)).toEqual([0, 0]);
    expect(statSync(motd).mtimeMs).toBe(before);

    const text = fettle(['apply', '--site', dir]);
    expect(text.stdout).toMatch(/summary: 0 changed, 14 ok, 0 failed, 0 skipped, 0 unreachable \(2 hosts/);
  });

  it('verify exits 0, then 1 after a hand edit; plan, apply -v and --json show the unified diff, a plain apply does not', () => {
    expect(fettle(['verify', '--site', dir]).code).toBe(0);
    writeFileSync(motd, 'edited by hand\n');
    const verify = fettle(['verify', '--site', dir]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain('file:/etc/fettle-demo/motd');
    const plan = fettle(['plan', '--site', dir, 'node1']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('-edited by hand');
    expect(plan.stdout).toContain('+Hello from node1, this is node1.');
    expect(readFileSync(motd, 'utf8')).toBe('edited by hand\n');
    const dry = fettle(['apply', '--dry-run', '--site', dir, 'node1']);
    expect(dry.stdout).toContain('would change');
    expect(readFileSync(motd, 'utf8')).toBe('edited by hand\n');
    // A text apply shows what changed, without the content diff nobody asked for (-v shows it).
    const quiet = fettle(['apply', '--site', dir, 'node1']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/file:\/etc\/fettle-demo\/motd {2}changed\n {4}sha256/);
    expect(quiet.stdout).not.toContain('-edited by hand');
    expect(quiet.stdout).not.toContain('+Hello from node1');
    writeFileSync(motd, 'edited by hand\n');
    const verbose = fettle(['apply', '-v', '--site', dir, 'node1']);
    expect(verbose.stdout).toContain('-edited by hand');
    expect(verbose.stdout).toContain('+Hello from node1, this is node1.');
    writeFileSync(motd, 'edited by hand\n');
    const json = JSON.parse(fettle(['apply', '--json', '--site', dir, 'node1']).stdout) as { hosts: { items: { id: string; detail?: string }[] }[] };
    expect(json.hosts[0]?.items.find((item) => item.id === 'file:/etc/fettle-demo/motd')?.detail).toContain('-edited by hand');
    expect(fettle(['verify', '--site', dir]).code).toBe(0);
  });

  it('lists hosts, items and plugins', () => {
    const hosts = fettle(['hosts', '--site', dir, 'group:web']);
    expect(hosts.stdout).toMatch(/node1\s+local/);
    expect(hosts.stdout).not.toContain('node2');
    const vars = fettle(['hosts', '--site', dir, 'node1', '--vars']);
    expect(vars.stdout).toMatch(/greeting = "Hello from node1"\s+\(host node1\)/);
    expect(vars.stdout).toMatch(/overrides "Hello" \(group all\)/);
    const items = JSON.parse(fettle(['items', 'node1', '--site', dir, '--json']).stdout) as { items: { id: string; needs: string[] }[] };
    expect(items.items.find((i) => i.id === 'file:/etc/fettle-demo/motd')?.needs).toEqual(['directory:/etc/fettle-demo']);
    const plugins = fettle(['plugins', '--site', dir]);
    expect(plugins.stdout).toContain('@fettle/items-files');
    expect(plugins.stdout).toMatch(/item types\s+directory, file, symlink/);
  });
});

describe('the compiled site config is cached', () => {
  it('reuses the compile while its inputs are unchanged, recompiles when an imported module changes', () => {
    const dir = site(`${header}import { greeting } from './lib/greeting.js';
export default defineSite({
  plugins: [files, local],
  hosts: new MemoryHostStore({ hosts: { web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }, defaultRoles: ['base'] }),
  roles: { base: () => ({ 'file:/g.txt': { content: greeting + ' ' + path.basename(import.meta.dirname) } }) },
});
import path from 'node:path';
`);
    mkdirSync(path.join(dir, 'lib'));
    writeFileSync(path.join(dir, 'lib/greeting.ts'), `export const greeting: string = 'hello';\n`);
    const cache = path.join(dir, 'node_modules/.cache/fettle');
    const compiled = (): string[] => readdirSync(cache).filter((name) => name.endsWith('.mjs'));

    expect(fettle(['apply', '--site', dir]).code).toBe(0);
    // import.meta.dirname is the site folder even though the module runs from the cache.
    expect(readFileSync(path.join(dir, 'sandbox/web1/g.txt'), 'utf8')).toBe(`hello ${path.basename(dir)}`);
    const first = compiled();
    expect(first).toHaveLength(1);
    const firstMtime = statSync(path.join(cache, first[0] ?? '')).mtimeMs;
    expect(readdirSync(dir).filter((name) => name.startsWith('.fettle-config'))).toEqual([]);

    expect(fettle(['verify', '--site', dir]).code).toBe(0);
    expect(compiled()).toEqual(first);
    expect(statSync(path.join(cache, first[0] ?? '')).mtimeMs).toBe(firstMtime);

    writeFileSync(path.join(dir, 'lib/greeting.ts'), `export const greeting: string = 'bonjour';\n`);
    expect(fettle(['verify', '--site', dir]).code).toBe(1);
    const second = compiled();
    expect(second).toHaveLength(1);
    expect(second).not.toEqual(first);
    expect(fettle(['apply', '--site', dir]).code).toBe(0);
    expect(readFileSync(path.join(dir, 'sandbox/web1/g.txt'), 'utf8')).toBe(`bonjour ${path.basename(dir)}`);
  });
});

describe('help', () => {
  it('prints usage for fettle and each command', () => {
    const top = fettle(['--help']);
    expect(top.code).toBe(0);
    for (const word of ['plan', 'apply', 'verify', 'items', 'hosts', 'plugins', 'Exit codes:', 'Selectors:']) expect(top.stdout).toContain(word);
    for (const command of ['plan', 'apply', 'verify', 'items', 'hosts', 'plugins']) {
      const help = fettle([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: fettle ${command}`);
    }
    expect(fettle(['apply', '--help']).stdout).toContain('--dry-run');
  });
});

/** Runs the CLI with stdout read by a reader that stops after the first chunk, as `| head -1` does. */
function fettleIntoClosedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a reader that stops early (| head)', () => {
  it('ends help quietly, and lets an apply finish and release its hosts', async () => {
    const help = await fettleIntoClosedPipe(['--help']);
    expect(help.stderr).not.toMatch(/EPIPE|Error/);
    expect(help.code).toBe(0);

    const dir = copyExample();
    const apply = await fettleIntoClosedPipe(['apply', '--site', dir]);
    expect(apply.stderr).not.toMatch(/EPIPE|Error/);
    expect(apply.code).toBe(0);
    const again = fettle(['apply', '--site', dir, '--json']);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { summary: Record<string, number> }).summary).toMatchObject({ changed: 0, ok: 14, failed: 0 });
  });
});

describe('startup: a command loads only what it needs', () => {
  /** The ES modules (file URLs) a run of the CLI loads, from a loader hook. */
  function modulesLoaded(args: string[]): string[] {
    const file = path.join(mkdtempSync(path.join(sitesRoot, 'modules-')), 'loaded.txt');
    made.push(path.dirname(file));
    writeFileSync(file, '');
    const hook = `data:text/javascript,${encodeURIComponent(`import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { const r = await next(url, context); appendFileSync(${JSON.stringify(file)}, url + '\\n'); return r; }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    const result = spawnSync(process.execPath, ['--import', register, bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status, result.stderr).toBe(0);
    return readFileSync(file, 'utf8').split('\n').filter((url) => url.startsWith('file:'));
  }
  const from = (urls: string[], pattern: RegExp) => urls.filter((url) => pattern.test(url));
  const heavy = /\/packages\/core\/|\/zod\/|\/diff\/|\/magicast\/|\/esbuild\/|\/create-fettle\/|\/ssh2\/|\/plugins\//;

  it('--help, --version and COMMAND --help load neither @fettle/core nor zod, nor any plugin', () => {
    for (const args of [['--help'], ['--version'], ['verify', '--help'], ['help', 'apply'], ['add', '--help'], ['pull', '--help']]) {
      const urls = modulesLoaded(args);
      expect(urls.length, args.join(' ')).toBeGreaterThan(0);
      expect(from(urls, heavy), args.join(' ')).toEqual([]);
    }
  });

  it('--help and --version load 6 ES modules and compile no CommonJS (the code cache is in bin.js, idle)', () => {
    for (const args of [['--help'], ['--version']]) {
      expect(modulesLoaded(args), args.join(' ')).toHaveLength(6);
      const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, FETTLE_COMPILE_CACHE_DEBUG: '1' } });
      expect(run.stderr).toMatch(/^fettle compile cache: \{"hits":0,"misses":0,"rejected":0,"written":0\}\n$/);
    }
  });

  it('a verify loads core and the site, but not diff, magicast, esbuild or create-fettle', () => {
    const dir = copyExample();
    expect(fettle(['apply', '--site', dir]).code).toBe(0);
    // The .ts config is compiled (esbuild) once and cached: the verify reads the cache.
    const urls = modulesLoaded(['verify', '--site', dir]);
    expect(from(urls, /\/packages\/core\/dist\//).length).toBeGreaterThan(0);
    expect(from(urls, /node_modules\/\.cache\/fettle\//)).toHaveLength(1);
    expect(from(urls, /\/diff\/|\/magicast\/|\/esbuild\/|\/create-fettle\/|\/zod\//)).toEqual([]);
    // The CLI's own: bin.js, commander, the run path and the small modules other commands share
    // (node 20 compiles every ES module from source on every run: each one more costs ~0.5 ms).
    expect(from(urls, /\/packages\/cli\/dist\//)).toHaveLength(11);
  });

  it("a verify compiles none of node's own modules that only an ES import's façade would pull in, and never touches process.stdin", () => {
    const dir = copyExample();
    expect(fettle(['apply', '--site', dir]).code).toBe(0);
    const listFile = path.join(dir, 'module-load-list.txt');
    const preload = path.join(dir, 'module-load-list.cjs');
    // process.stdin is made on first access (a stream, and for a file node's fs stream code): a
    // run that asks nothing never touches it. The preload notes any access.
    writeFileSync(
      preload,
      `const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
let touched = false;
Object.defineProperty(process, 'stdin', { ...stdin, get() { touched = true; return stdin.get.call(process); } });
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)}, [...process.moduleLoadList, touched ? 'stdin touched' : 'stdin untouched'].join('\\n')));\n`,
    );
    const result = spawnSync(process.execPath, ['--require', preload, bin, 'verify', '--site', dir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status, result.stderr).toBe(0);
    const loaded = readFileSync(listFile, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule crypto'); // the run does use crypto and util …
    expect(loaded).toContain('NativeModule util');
    // … but not what their ES façades read through lazy getters, nor readline (only -i asks).
    for (const unused of ['internal/crypto/webcrypto', 'internal/util/parse_args/parse_args', 'internal/mime', 'readline/promises']) {
      expect(loaded, unused).not.toContain(`NativeModule ${unused}`);
    }
    expect(loaded).toContain('stdin untouched');
  });
});

describe('built files (every workspace package)', () => {
  const root = path.resolve(bin, '../../../..');
  const built = ['packages', 'plugins'].flatMap((group) =>
    readdirSync(path.join(root, group)).flatMap((name) => {
      const dist = path.join(root, group, name, 'dist');
      return statSync(dist, { throwIfNoEntry: false }) ? readdirSync(dist).filter((file) => /\.c?js$/.test(file)).map((file) => path.join(dist, file)) : [];
    }),
  );

  it('import no node builtin as an ES module (its façade would run every lazy getter): they ask process.getBuiltinModule', () => {
    expect(built.length).toBeGreaterThan(20);
    const offenders = built.filter((file) => /^import [^;]+ from "(node:)?(fs|path|os|crypto|net|util|url|module|child_process|events|vm|readline|stream|zlib)(\/[a-z]+)?";$/m.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('hold ASCII only, so V8 keeps each source one byte a character', () => {
    // eslint-disable-next-line no-control-regex
    expect(built.filter((file) => /[^\x00-\x7f]/.test(readFileSync(file, 'utf8')))).toEqual([]);
  });
});

describe('bad input: a clear message naming the place, no stack trace, exit 3', () => {
  const cases: [string, () => string, string[], RegExp[]][] = [
    ['unknown item type', () => simpleSite(`{ 'fiel:/etc/x': { content: 'x' } }`), ['plan'], [/host web1, role base \(fettle\.config\.ts:\d+\), item fiel:\/etc\/x/, /unknown item type 'fiel'/, /directory, file, symlink/]],
    ['unknown attribute', () => simpleSite(`{ 'file:/etc/x': { content: 'x', mdoe: '0644' } }`), ['plan'], [/item file:\/etc\/x/, /unknown attribute 'mdoe'/]],
    ['missing required attribute', () => simpleSite(`{ 'symlink:/etc/x': {} }`), ['plan'], [/item symlink:\/etc\/x/, /missing required attribute 'target'/]],
    ['wrong attribute type', () => simpleSite(`{ 'file:/etc/x': { content: 42 } }`), ['plan'], [/item file:\/etc\/x/, /attribute 'content': expected string or bytes, got number 42/]],
    ['selector naming no host', () => simpleSite(`{}`), ['plan', 'db*'], [/'db\*' names no host/]],
    [
      'two plugins giving one item type',
      () => simpleSite(`{}`, `import { fileItem } from '@fettle/items-files';\nconst extraPlugin = definePlugin({ name: 'fettle-plugin-myfiles', itemTypes: [fileItem] });\n`),
      ['plan'],
      [/item type 'file' is provided by two plugins: '@fettle\/items-files' and 'fettle-plugin-myfiles'/],
    ],
    ['a bad mode value', () => simpleSite(`{ 'file:/etc/x': { mode: 644 } }`), ['plan'], [/attribute 'mode': expected string, got number 644/]],
    ['a relative path', () => simpleSite(`{ 'file:etc/x': {} }`), ['plan'], [/bad item name 'etc\/x': expected an absolute path/]],
    ['an unknown command option', () => simpleSite(`{}`), ['plan', '--frobnicate'], [/unknown option '--frobnicate'/]],
  ];
  for (const [name, make, args, patterns] of cases) {
    it(name, () => {
      const dir = make();
      const result = fettle([...args, '--site', dir]);
      expect(result.code).toBe(3);
      for (const pattern of patterns) expect(result.stderr).toMatch(pattern);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    });
  }
  it('a missing site', () => {
    const result = fettle(['plan', '--site', '/nonexistent-site']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/no site config in \/nonexistent-site/);
  });
});

describe('apply -i', () => {
  it('asks before each fix and applies only what was accepted', () => {
    const dir = simpleSite(`{ 'file:/a.txt': { content: 'a' }, 'file:/b.txt': { content: 'b' }, 'file:/c.txt': { content: 'c', needs: ['file:/b.txt'] } }`);
    const result = fettle(['apply', '-i', '--site', dir], { input: 'y\nn\n' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('apply file:/a.txt on web1? [y/N] y');
    expect(result.stdout).toContain('apply file:/b.txt on web1? [y/N] n');
    expect(result.stdout).toMatch(/file:\/b\.txt\s+skipped: declined/);
    expect(result.stdout).toMatch(/file:\/c\.txt\s+skipped: needs file:\/b\.txt, which was skipped/);
    expect(readFileSync(path.join(dir, 'sandbox/web1/a.txt'), 'utf8')).toBe('a');
    expect(() => readFileSync(path.join(dir, 'sandbox/web1/b.txt'))).toThrow();
  });
});

describe('progress', () => {
  it('draws a live line per host on a TTY and plain lines otherwise', () => {
    const dir = simpleSite(`{ 'file:/a.txt': { content: 'a' } }`);
    // `script` gives the command a pseudo-terminal, as a person at a terminal would.
    const tty = spawnSync('script', ['-qec', `${process.execPath} ${bin} apply --site ${dir}`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' } });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/… web1 {2}(connecting|gathering|fixing|confirming)/);
    expect(tty.stdout).toContain('\x1b[1A\x1b[J'); // the live line is redrawn in place
    const plain = fettle(['apply', '--site', dir]);
    expect(plain.stdout).not.toContain('\x1b[');
    expect(plain.stdout).not.toContain('…');
  });
});

describe('exit codes', () => {
  it('2 when a host is unreachable, while the others finish', () => {
    const dir = simpleSite(
      `{ 'file:/x.txt': { content: 'x' } }`,
      '',
      `{ web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } }, dead: { transport: 'local', transportOptions: { root: '/etc/hostname/fettle-cannot-exist' } } }`,
    );
    const result = fettle(['apply', '--site', dir, '--json']);
    expect(result.code).toBe(2);
    const run = JSON.parse(result.stdout) as { summary: Record<string, number>; hosts: { host: string; status: string; error?: string }[] };
    expect(run.summary).toMatchObject({ changed: 1, unreachable: 1 });
    expect(run.hosts.find((h) => h.host === 'dead')?.error).toMatch(/cannot connect/);
    expect(readFileSync(path.join(dir, 'sandbox/web1/x.txt'), 'utf8')).toBe('x');
  });
  it('1 when an item fails', () => {
    const dir = simpleSite(`{ 'file:/no/such/dir/x.txt': { content: 'x' } }`);
    expect(fettle(['apply', '--site', dir]).code).toBe(1);
  });
});
