#!/usr/bin/env node
// Controller CPU of `fettle verify` against the floor's, on the sshd `bench/serve.mjs N` keeps
// running: interleaved pairs (fettle, floor, fettle, floor, …) timed under GNU time, medians
// and the ratio; or one CPU profile of each, summarised by file and function.
//   node bench/serve.mjs 128 &                       # prints "sshd pid … port P dir D"
//   node bench/profile.mjs pairs --port P --dir D --hosts 128 [--runs 5] [-j 32]
//   node bench/profile.mjs cpuprof --port P --dir D --hosts 128 [-j 32] [--out DIR] [--top 40]
//   node bench/profile.mjs summary DIR [--top 40]    # a folder of .cpuprofile files
//   node bench/profile.mjs callers DIR REGEX [DEPTH] # who calls the functions matching REGEX
//   node bench/profile.mjs inclusive DIR REGEX       # time spent under the functions matching REGEX
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostNames } from './lib/gen.mjs';
import { load1, median, timed } from './lib/timing.mjs';
import { commands } from './lib/tools.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const WORK = path.join(BENCH, '.work');
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');

const [mode, ...rest] = process.argv.slice(2);
const flags = {};
const positional = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i].startsWith('-')) flags[rest[i].replace(/^-+/, '')] = rest[++i];
  else positional.push(rest[i]);
}

function setup() {
  if (!flags.port || !flags.dir || !flags.hosts) throw new Error('--port, --dir and --hosts are required (from bench/serve.mjs)');
  const n = Number(flags.hosts);
  const sshd = { port: Number(flags.port), clientKey: path.join(flags.dir, 'client_ed25519'), knownHosts: path.join(flags.dir, 'known_hosts'), targets: path.join(flags.dir, 'targets') };
  const hosts = hostNames(n, Math.max(3, String(n).length)).map((h) => h.replace('node', 's'));
  const command = commands({ bench: BENCH, work: WORK, cli: CLI, sshd, concurrency: Number(flags.j ?? 32) });
  const site = path.join(WORK, `fettle-scale-${n}`);
  return { n, pair: [command('fettle', 'verify', hosts, site), command('floor', 'verify', hosts)] };
}

async function pairs() {
  const { n, pair } = setup();
  const runs = Number(flags.runs ?? 5);
  const statsFile = path.join(WORK, 'profile-stats');
  const cpu = [[], []];
  const wall = [[], []];
  const loads = [load1()];
  for (let i = 0; i <= runs; i++) {
    for (const [k, cmd] of pair.entries()) {
      const r = await timed(cmd.argv, { cwd: ROOT, statsFile });
      if (r.code !== 0) throw new Error(`${cmd.argv.join(' ')}: exit ${r.code}\n${r.stderr.slice(-800)}`);
      if (i === 0) continue; // warm-up
      cpu[k].push(r.cpu);
      wall[k].push(r.wall);
    }
    loads.push(load1());
  }
  const ms = (s) => ((s / n) * 1000).toFixed(2);
  const [fc, lc, fw, lw] = [median(cpu[0]), median(cpu[1]), median(wall[0]), median(wall[1])];
  console.log(`${n} hosts, ${runs} pairs, load ${loads.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`  cpu  fettle ${ms(fc)} ms/host  floor ${ms(lc)} ms/host  ratio ${(fc / lc).toFixed(2)}`);
  console.log(`  wall fettle ${fw.toFixed(3)} s  floor ${lw.toFixed(3)} s  ratio ${(fw / lw).toFixed(2)}`);
}

async function cpuprof() {
  const { pair } = setup();
  const out = flags.out ?? path.join(WORK, 'cpuprof');
  for (const [k, cmd] of pair.entries()) {
    const dir = path.join(out, k ? 'floor' : 'fettle');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const argv = [cmd.argv[0], '--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', dir, ...cmd.argv.slice(1)];
    const r = await timed(argv, { cwd: ROOT, statsFile: path.join(WORK, 'profile-stats') });
    console.log(`== ${k ? 'floor' : 'fettle'}: cpu ${r.cpu.toFixed(2)} s, wall ${r.wall.toFixed(2)} s (${dir})`);
    summary(dir);
  }
}

function profiles(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => {
      const p = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      const nodes = new Map(p.nodes.map((node) => [node.id, node]));
      const parent = new Map();
      for (const node of p.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
      const self = new Map();
      p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
      return { nodes, parent, self };
    });
}

const shortUrl = (url) => (url || '(native)').replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm/').replace(`${ROOT}/`, '');
const top = (map, k) => [...map].sort((a, b) => b[1] - a[1]).slice(0, k);

function summary(dir) {
  const byFile = new Map();
  const byFn = new Map();
  let total = 0;
  const all = profiles(dir);
  for (const { nodes, self } of all) {
    for (const [id, t] of self) {
      const { functionName, url, lineNumber } = nodes.get(id).callFrame;
      total += t;
      byFile.set(shortUrl(url), (byFile.get(shortUrl(url)) ?? 0) + t);
      const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber}`;
      byFn.set(key, (byFn.get(key) ?? 0) + t);
    }
  }
  const k = Number(flags.top ?? 30);
  const ms = (t) => (t / 1000 / all.length).toFixed(1).padStart(8);
  console.log(`total ${ms(total)} ms per run\n-- by file`);
  for (const [name, t] of top(byFile, k)) console.log(ms(t), name);
  console.log('-- by function');
  for (const [name, t] of top(byFn, k)) console.log(ms(t), name);
}

function callers(dir, pattern, depth = 6) {
  const re = new RegExp(pattern);
  const chains = new Map();
  for (const { nodes, parent, self } of profiles(dir)) {
    for (const [id, t] of self) {
      if (!re.test(nodes.get(id).callFrame.functionName)) continue;
      const chain = [];
      for (let cur = id, d = 0; cur !== undefined && d < depth; d++, cur = parent.get(cur)) {
        const { functionName, url, lineNumber } = nodes.get(cur).callFrame;
        chain.push(`${functionName || '(anonymous)'}@${shortUrl(url).replace(/.*\//, '')}:${lineNumber}`);
      }
      chains.set(chain.join(' < '), (chains.get(chain.join(' < ')) ?? 0) + t);
    }
  }
  for (const [chain, t] of top(chains, Number(flags.top ?? 15))) console.log((t / 1000).toFixed(1).padStart(8), chain);
}

/** Time under (self and callees of) each function matching REGEX, counted once per stack. */
function inclusive(dir, pattern) {
  const re = new RegExp(pattern);
  const totals = new Map();
  const runs = profiles(dir);
  for (const { nodes, parent, self } of runs) {
    for (const [id, t] of self) {
      const seen = new Set();
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        const { functionName, url, lineNumber } = nodes.get(cur).callFrame;
        if (!re.test(functionName)) continue;
        const key = `${functionName} ${shortUrl(url)}:${lineNumber}`;
        if (seen.has(key)) continue;
        seen.add(key);
        totals.set(key, (totals.get(key) ?? 0) + t);
      }
    }
  }
  for (const [key, t] of top(totals, Number(flags.top ?? 30))) console.log((t / 1000 / runs.length).toFixed(1).padStart(8), key);
}

if (mode === 'pairs') await pairs();
else if (mode === 'inclusive') inclusive(positional[0], positional[1]);
else if (mode === 'cpuprof') await cpuprof();
else if (mode === 'summary') summary(positional[0]);
else if (mode === 'callers') callers(positional[0], positional[1], Number(positional[2] ?? 6));
else {
  console.error('usage: node bench/profile.mjs pairs|cpuprof|summary|callers … (see the comment at the top)');
  process.exit(3);
}
