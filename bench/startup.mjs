#!/usr/bin/env node
// Where the fixed cost of a fettle run goes: `fettle --help`, `fettle --version`, a 1-host and an
// 8-host verify, against `node -e 0` and the floor (floor.mjs), over the bench's own sshd.
//
//   node bench/startup.mjs [--runs 9] [--no-profile] [--keep]
//
// Timed runs are interleaved (every case once per round, rounds repeated) and reported as medians
// and as ratios to the floor, with the load average before and after. Each fettle run carries a tiny
// preload that stamps the phases of the run (milliseconds since the process started):
//   boot      node itself, up to the first line of user code (compare `node -e 0`)
//   load      CLI, @fettle/core, the site config and its plugins loaded, hosts prepared: up to the
//             first TCP connect (for --help / --version: up to exit, there is no connect)
//   network   first connect to last socket closed: handshake, auth, the batch, its answer
//   exit      last socket closed to process exit
// Then one run of each with --cpu-prof attributes CPU time to what ran it: node's own bootstrap,
// the CLI, core (zod is bundled into core's chunk), each plugin, ssh2, the site, the garbage
// collector, and idle (waiting on the network). And one run with a loader hook counts the modules
// each case loads (ES modules; the CommonJS that require loads, ssh2's files and @fettle/core's dist/core.cjs, is not counted).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSshd } from './lib/sshd.mjs';
import { fettleSite, hostNames } from './lib/gen.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');
const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '9' }, 'no-profile': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
const RUNS = Number(opt.runs);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const ms = (x) => (x === undefined ? '' : x.toFixed(0).padStart(6));

// The preload: phase stamps, written as one JSON line to the file PHASES_FILE names, at exit.
const PRELOAD = `data:text/javascript,${encodeURIComponent(`
import net from 'node:net';
import { appendFileSync } from 'node:fs';
const stamps = { boot: performance.now() };
let open = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  stamps.connect ??= performance.now();
  open++;
  this.once('close', () => { if (--open === 0) stamps.closed = performance.now(); });
  return connect.apply(this, args);
};
process.on('exit', () => { stamps.exit = performance.now(); appendFileSync(process.env.PHASES_FILE, JSON.stringify(stamps) + '\\n'); });
`)}`;

// ---------------------------------------------------------------------------- setup
const hosts = hostNames(8);
const sshd = await startSshd({ hosts });
mkdirSync(path.join(BENCH, '.work'), { recursive: true });
const work = mkdtempSync(path.join(BENCH, '.work', 'startup-'));
const site = fettleSite({ dir: path.join(work, 'site'), repoRoot: ROOT, hosts, sshd, lang: 'mjs' });
// Put the workload in place, host by host. The hosts are one machine, so they share its apply lock
// (/var/lib/fettle/lock) with any other apply on it: wait for it, and after a minute take it anyway.
for (const host of hosts) {
  for (let attempt = 0; ; attempt++) {
    const force = attempt >= 30 ? ['--force-lock'] : [];
    if (spawnSync('node', [CLI, 'apply', host, '--site', site, ...force], { stdio: 'ignore' }).status === 0) break;
    if (attempt >= 30) throw new Error(`could not put the workload in place on ${host}`);
    execFileSync('sleep', ['2']);
  }
}
const phasesFile = path.join(work, 'phases.jsonl');
const floorArgs = (n) => [path.join(BENCH, 'floor.mjs'), String(sshd.port), sshd.clientKey, sshd.knownHosts, sshd.targets, ...hosts.slice(0, n)];

const CASES = [
  { name: 'node -e 0', argv: ['-e', '0'] },
  { name: 'fettle --version', argv: [CLI, '--version'], fettle: true },
  { name: 'fettle --help', argv: [CLI, '--help'], fettle: true },
  { name: 'floor 1 host', argv: floorArgs(1) },
  { name: 'fettle verify 1 host', argv: [CLI, 'verify', 'node01', '--site', site], fettle: true, floor: 'floor 1 host' },
  // The same without the code cache (packages/cli/src/compile-cache.ts): what it saves.
  { name: 'fettle verify 1 host, no code cache', argv: [CLI, 'verify', 'node01', '--site', site], fettle: true, floor: 'floor 1 host', env: { FETTLE_NO_COMPILE_CACHE: '1' } },
  { name: 'floor 8 hosts', argv: floorArgs(8) },
  { name: 'fettle verify 8 hosts', argv: [CLI, 'verify', '--site', site], fettle: true, floor: 'floor 8 hosts' },
];

const TIME = '/usr/bin/time';
const timeFile = path.join(work, 'time.txt');
/** One run: wall ms from spawn to exit, and (timed runs) the CPU ms, user + system, GNU time measured. */
function run(kase, extra = [], env = {}, { cpu = false } = {}) {
  const argv = [process.execPath, ...extra, ...kase.argv];
  const start = process.hrtime.bigint();
  const result = cpu
    ? spawnSync(TIME, ['-f', '%U %S', '-o', timeFile, ...argv], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } })
    : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${kase.name} exited ${result.status}: ${result.stderr}`);
  if (!cpu) return wall;
  const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: (user + system) * 1000 };
}

function lastPhases() {
  const lines = readFileSync(phasesFile, 'utf8').trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

// ---------------------------------------------------------------------------- timed, interleaved
const loadBefore = load();
const walls = Object.fromEntries(CASES.map((c) => [c.name, []]));
const cpus = Object.fromEntries(CASES.map((c) => [c.name, []]));
const phases = Object.fromEntries(CASES.map((c) => [c.name, []]));
for (const kase of CASES) run(kase, [], kase.env); // warm-up: page cache, the site's compiled-config cache
for (let round = 0; round < RUNS; round++) {
  for (const kase of CASES) {
    const timed = run(kase, [], kase.env, { cpu: true });
    walls[kase.name].push(timed.wall);
    cpus[kase.name].push(timed.cpu);
    // The phase stamps come from a separate run with the preload, so the timed run carries none of it.
    if (kase.fettle) {
      run(kase, ['--import', PRELOAD], { ...kase.env, PHASES_FILE: phasesFile });
      phases[kase.name].push(lastPhases());
    }
  }
}
const loadAfter = load();

const lines = [];
const out = (text = '') => { lines.push(text); console.log(text); };
out(`# fettle startup: ${RUNS} interleaved rounds, medians (ms); node ${process.version}; load average before ${loadBefore}, after ${loadAfter}`);
out();
out('wall: spawn to exit (through GNU time); cpu: user + system of the process; boot … exit: phases, see the top of bench/startup.mjs.');
out();
out('| case | wall | × node -e 0 | × floor | cpu | cpu × floor | boot | load | network | exit |');
out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const nodeWall = median(walls['node -e 0']);
for (const kase of CASES) {
  const wall = median(walls[kase.name]);
  const p = phases[kase.name];
  const phase = (from, to) => (p.length && p.every((s) => s[to] !== undefined) ? median(p.map((s) => s[to] - (from ? s[from] : 0))) : undefined);
  const loadEnd = p.length && p[0].connect !== undefined ? 'connect' : 'exit';
  const cells = [
    ms(wall),
    (wall / nodeWall).toFixed(2),
    kase.floor ? (wall / median(walls[kase.floor])).toFixed(2) : '',
    ms(median(cpus[kase.name])),
    kase.floor ? (median(cpus[kase.name]) / median(cpus[kase.floor])).toFixed(2) : '',
    ms(phase(undefined, 'boot')),
    ms(phase('boot', loadEnd)),
    loadEnd === 'connect' ? ms(phase('connect', 'closed')) : '',
    loadEnd === 'connect' ? ms(phase('closed', 'exit')) : '',
  ];
  out(`| ${kase.name} | ${cells.join(' | ')} |`);
}

// ---------------------------------------------------------------------------- modules loaded
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { const r = await next(url, context); if (!url.startsWith('node:')) appendFileSync(process.env.MODULES_FILE, url + '\\n'); return r; }
`)}`;
const REGISTER = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(HOOK)});`)}`;
out();
out('Modules loaded (ESM files, by package):');
for (const kase of CASES.filter((c) => c.fettle)) {
  const file = path.join(work, `modules-${kase.name.replace(/\W+/g, '-')}.txt`);
  run(kase, ['--import', REGISTER], { ...kase.env, MODULES_FILE: file });
  const urls = readFileSync(file, 'utf8').trim().split('\n');
  const byPackage = {};
  for (const url of urls) byPackage[owner(url)] = (byPackage[owner(url)] ?? 0) + 1;
  out(`  ${kase.name}: ${urls.length} — ${Object.entries(byPackage).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

/** The package a file or function URL belongs to: a workspace package, a dependency, the site, or node. */
function owner(url) {
  if (!url) return '(node internals)';
  if (url.startsWith('node:') || !url.includes('/')) return '(node internals)';
  const dep = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//);
  if (dep && !dep[1].startsWith('@fettle')) return dep[1];
  const ws = url.match(/\/(?:packages|plugins)\/([^/]+)\//);
  if (ws) return `@fettle/${ws[1]}`;
  if (dep) return dep[1];
  if (url.includes(work)) return 'the site';
  return url;
}

// ---------------------------------------------------------------------------- CPU by package
if (!opt['no-profile']) {
  out();
  out('CPU profile (one run each, --cpu-prof, 0.2 ms sampling): ms of samples by what ran');
  for (const kase of CASES.filter((c) => c.fettle || c.name.startsWith('floor'))) {
    const dir = mkdtempSync(path.join(tmpdir(), 'fettle-startup-prof-'));
    run(kase, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'], kase.env);
    const profile = JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]), 'utf8'));
    rmSync(dir, { recursive: true, force: true });
    const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
    const totals = {};
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byNode.get(profile.samples[i]);
      const fn = node.callFrame.functionName;
      const key = fn === '(garbage collector)' || fn === '(idle)' || fn === '(program)' ? fn : owner(node.callFrame.url);
      totals[key] = (totals[key] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
    }
    const total = Object.values(totals).reduce((a, b) => a + b, 0);
    const parts = Object.entries(totals).sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${v.toFixed(0)}`);
    out(`  ${kase.name} (${total.toFixed(0)} ms sampled): ${parts.join(', ')}`);
  }
}

writeFileSync(path.join(BENCH, '.work', 'startup-last.md'), `${lines.join('\n')}\n`);
await sshd.stop({ keep: opt.keep });
if (!opt.keep) rmSync(work, { recursive: true, force: true });
