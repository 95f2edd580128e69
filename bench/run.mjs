#!/usr/bin/env node
// fettle vs BundleWrap vs Ansible vs the floors, on the BENCH-WORKLOAD.md workload, over one
// real sshd on 127.0.0.1, in one run, the tools of each case interleaved. See bench/README.md.
//
//   node bench/run.mjs [--runs 3] [--tools fettle,floor,...] [--hosts 1,8] [--cases cold,warm,verify]
//                      [--scale 1,8,128,1024 | --no-scale] [--scale-concurrency 32] [--no-peers]
//                      [--out bench/results] [--keep]
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NOFILE, raiseSomaxconn, withOpenFileLimit } from './lib/limits.mjs';
import { startSshd } from './lib/sshd.mjs';
import { ansibleProject, bundlewrapRepo, fettleSite, hostNames, sshConfig } from './lib/gen.mjs';
import { markdown } from './lib/report.mjs';
import { load1, median, round, stopTimed, timed } from './lib/timing.mjs';
import { PEERS, commands, setup, toolsFor, versions } from './lib/tools.mjs';
import { checkTargets } from './lib/workload.mjs';

// Before anything else: run again under a raised open-file limit if needed (the scale case).
const nofile = withOpenFileLimit();

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const WORK = path.join(BENCH, '.work');
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');
const STATS = path.join(WORK, 'time.out');

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'slow-runs': { type: 'string', default: '1' },
    'slow-threshold': { type: 'string', default: '20' },
    cap: { type: 'string', default: '45' },
    'strong-slow-runs': { type: 'string', default: '3' },
    'cap-strong': { type: 'string', default: '300' },
    tools: { type: 'string', default: ['fettle', 'floor', 'fettle-ts', 'fettle-ts-nocache', ...PEERS].join(',') },
    hosts: { type: 'string', default: '1,8' },
    cases: { type: 'string', default: 'cold,warm,verify' },
    scale: { type: 'string', default: '1,8,128,1024' },
    'scale-runs': { type: 'string', default: '3' },
    'scale-concurrency': { type: 'string', default: '32' },
    'no-scale': { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH, 'results') },
    keep: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opt.runs);
const SLOW_RUNS = Number(opt['slow-runs']);
// The strongest peer's slow cases under 2 × SLOW_S still get this many counted runs (the first included).
const STRONG_SLOW_RUNS = Number(opt['strong-slow-runs']);
const SLOW_S = Number(opt['slow-threshold']);
const CAP_S = Number(opt.cap);
// The strongest peer (the target's yardstick) gets a longer cap, so its figures are real ones.
const capFor = (tool) => (tool === 'bundlewrap-tuned' || tool.startsWith('fettle') || tool.includes('floor') ? Number(opt['cap-strong']) : CAP_S);
let TOOLS = opt.tools.split(',').filter(Boolean);
if (opt['no-peers']) TOOLS = TOOLS.filter((t) => !PEERS.includes(t));
const HOST_COUNTS = opt.hosts.split(',').map(Number);
const CASES = opt.cases.split(',');
const SCALE = opt['no-scale'] ? [] : opt.scale.split(',').filter(Boolean).map(Number);
const SCALE_RUNS = Number(opt['scale-runs']);
const SCALE_J = Number(opt['scale-concurrency']);

const log = (...a) => { if (!opt.quiet) console.error(...a); };

let sshd;
let command;
const results = [];

// ---------------------------------------------------------------------------- cases

/** Put the workload in place (untimed) so that a warm or verify run starts from the right state. */
async function ensureApplied(hosts) {
  const out = await timed(['node', CLI, 'apply', '--site', path.join(WORK, 'fettle-site'), '--json', hosts.join(',')], { cwd: ROOT, statsFile: STATS });
  if (out.code !== 0) throw new Error(`could not put the workload in place:\n${out.stdout.slice(-800)}${out.stderr.slice(-800)}`);
}

/** Tool-specific facts from one run's output: fettle's per-host round trips. */
function details(tool, out) {
  if (!tool.startsWith('fettle')) return {};
  try {
    const rt = JSON.parse(out.stdout).hosts.map((h) => h.roundTrips);
    return { round_trips: { execs: Math.max(...rt.map((r) => r.execs)), fileWrites: Math.max(...rt.map((r) => r.fileWrites)) } };
  } catch {
    return { unparsed: out.stdout.slice(0, 300) };
  }
}

/** One timed run of one tool; an apply run (the cold floor's included) is checked afterwards. */
async function runOnce(s, kase, hosts, label) {
  if (kase !== 'cold') await ensureApplied(hosts);
  const mark = await sshd.mark();
  const cap = capFor(s.tool);
  const out = await timed(s.cmd.argv, { env: s.cmd.env, cwd: s.cmd.cwd ?? ROOT, timeoutMs: cap * 1000, statsFile: STATS });
  const counts = await sshd.countsSince(mark);
  // A bw run stopped at the cap leaves its node locks behind: the next run would refuse.
  if (s.tool.startsWith('bundlewrap')) rmSync(path.join(sshd.dir, 'bw-locks'), { recursive: true, force: true });
  const capped = out.wall >= cap;
  if (kase !== 'verify' && s.tool !== 'floor' && !capped && out.code === 0) {
    try {
      checkTargets(sshd.targets, hosts);
    } catch (e) {
      s.error ??= e instanceof Error ? e.message : String(e);
      log(`  ${s.tool} ${kase} ${hosts.length}h: the targets are not the workload: ${s.error}`);
    }
  }
  log(`  ${label.padEnd(7)} ${s.tool.padEnd(17)} ${kase.padEnd(6)} ${String(hosts.length).padStart(4)}h  ${out.wall.toFixed(3)} s  ${((out.peakKb ?? 0) / 1024).toFixed(1)} MB  cpu ${out.cpu.toFixed(2)} s  conn ${counts.connections} exec ${counts.execs} sftp ${counts.sftp}${out.code === 0 ? '' : `  EXIT ${out.code}`}${capped ? ' (cap)' : ''}`);
  if (out.code !== 0 && !capped) log(`${out.stdout.slice(-1500)}\n${out.stderr.slice(-1500)}`);
  return { ...out, counts, capped };
}

/**
 * One case × host count, its tools interleaved: the first run of every tool (a warm-up, or
 * the first counted run of a slow case), then round after round one run of every tool that
 * still wants one, so run i of every tool comes before run i+1 of any. A tool whose first
 * run takes over SLOW_S s counts it and makes SLOW_RUNS in all (STRONG_SLOW_RUNS for
 * bundlewrap-tuned under 2 × SLOW_S); a run stopped at the cap ends that tool's case.
 */
async function measureCase(kase, hosts) {
  const before = load1();
  const state = toolsFor(TOOLS, kase).map((tool) => ({ tool, cmd: command(tool, kase, hosts), counted: [] }));
  for (const s of state) {
    s.first = await runOnce(s, kase, hosts, 'first');
    s.slow = s.first.wall > SLOW_S;
    if (s.slow) s.counted.push(s.first);
    s.want = !s.slow ? RUNS : s.tool === 'bundlewrap-tuned' && s.first.wall < 2 * SLOW_S ? STRONG_SLOW_RUNS : SLOW_RUNS;
  }
  for (;;) {
    const due = state.filter((s) => !s.first.capped && s.counted.length < s.want);
    if (!due.length) break;
    for (const s of due) s.counted.push(await runOnce(s, kase, hosts, `run ${s.counted.length + 1}`));
  }
  const load = { before, after: load1() };
  for (const s of state) results.push(entry(s, kase, hosts.length, load));
}

function entry({ tool, counted, slow, first, error }, kase, n, load) {
  const last = counted[counted.length - 1];
  return {
    tool,
    case: kase,
    hosts: n,
    median_s: round(median(counted.map((r) => r.wall))),
    min_s: round(Math.min(...counted.map((r) => r.wall))),
    max_s: round(Math.max(...counted.map((r) => r.wall))),
    runs: counted.length,
    warmup: !slow,
    capped: first.capped ? capFor(tool) : undefined,
    peak_mb: round(Math.max(...counted.map((r) => r.peakKb ?? 0)) / 1024, 1),
    cpu_s: round(median(counted.map((r) => r.cpu)), 2),
    connections: round(last.counts.connections / n, 2),
    execs: round(last.counts.execs / n, 2),
    sftp: round(last.counts.sftp / n, 2),
    totals: last.counts,
    exit_codes: counted.map((r) => r.code),
    error,
    load,
    ...details(tool, last),
  };
}

/** "× fettle" for every other tool; "× floor" for fettle's rows, against the floor of the same case. */
function ratios() {
  const find = (tool, kase, hosts) => results.find((r) => r.tool === tool && r.case === kase && r.hosts === hosts);
  for (const r of results) {
    const fettle = find('fettle', r.case, r.hosts);
    if (fettle && r.tool !== 'fettle') r.vs_fettle = round(r.median_s / fettle.median_s, 2);
    const floor = find(r.case === 'cold' ? 'cold-floor' : 'floor', r.case, r.hosts);
    if (r.tool.startsWith('fettle') && floor) {
      r.floor_s = floor.median_s;
      r.vs_floor = round(r.median_s / floor.median_s, 2);
    }
    const bare = r.case === 'cold' && r.tool.startsWith('fettle') ? find('cold-floor-nofsync', r.case, r.hosts) : undefined;
    if (bare) {
      r.floor_nofsync_s = bare.median_s;
      r.vs_floor_nofsync = round(r.median_s / bare.median_s, 2);
    }
  }
}

// ---------------------------------------------------------------------------- scale

/**
 * fettle verify paired with the floor on 1 … 1,024 hosts, both SCALE_J hosts at a time:
 * a recorded cold apply from empty targets, a warm-up pair (up to 128 hosts), then
 * SCALE_RUNS pairs (fettle, floor, fettle, floor, …).
 */
async function scaleCase(sizes) {
  const width = Math.max(3, String(Math.max(...sizes)).length);
  const scaleCommand = commands({ bench: BENCH, work: WORK, cli: CLI, sshd, concurrency: SCALE_J });
  const out = [];
  for (const n of sizes) {
    const hosts = hostNames(n, width).map((h) => h.replace('node', 's'));
    const site = fettleSite({ dir: path.join(WORK, `fettle-scale-${n}`), repoRoot: ROOT, hosts, sshd, lang: 'mjs' });
    for (const h of hosts) rmSync(path.join(sshd.targets, h, 'd'), { recursive: true, force: true });
    const applyArgv = scaleCommand('fettle', 'apply', hosts, site).argv;
    const apply = await timed(applyArgv, { cwd: ROOT, statsFile: STATS });
    log(`  scale apply ${n} hosts (cold): ${apply.wall.toFixed(2)} s, ${(apply.peakKb / 1024).toFixed(1)} MB, exit ${apply.code}`);
    if (apply.code !== 0) {
      apply.failure = failedHosts(apply);
      log(`  scale apply ${n} hosts failed: ${apply.failure}`);
      // Once more (the hosts done are a no-op now): the verify pairs need the workload in place.
      const again = await timed(applyArgv, { cwd: ROOT, statsFile: STATS });
      if (again.code !== 0) {
        out.push({ hosts: n, error: `cold apply exit ${apply.code}: ${apply.failure}; again: exit ${again.code}: ${failedHosts(again)}` });
        continue;
      }
    }
    try {
      checkTargets(sshd.targets, hosts);
    } catch (e) {
      out.push({ hosts: n, error: `after the cold apply, the targets are not the workload: ${e instanceof Error ? e.message : e}` });
      continue;
    }
    const pair = [scaleCommand('fettle', 'verify', hosts, site), scaleCommand('floor', 'verify', hosts)];
    const before = load1();
    const runs = [[], []];
    // Over 128 hosts the cold apply just made on these hosts is the warm-up (it costs a minute or two).
    for (let i = n > 128 ? 1 : 0; i <= SCALE_RUNS; i++) {
      for (const [k, cmd] of pair.entries()) {
        const mark = await sshd.mark();
        const r = await timed(cmd.argv, { cwd: ROOT, statsFile: STATS });
        r.counts = await sshd.countsSince(mark);
        log(`  ${i ? `run ${i}` : 'warm-up'} scale ${k ? 'floor ' : 'verify'} ${String(n).padStart(4)} hosts: ${r.wall.toFixed(3)} s  ${(r.peakKb / 1024).toFixed(1)} MB  cpu ${r.cpu.toFixed(2)} s  conn ${r.counts.connections} exec ${r.counts.execs}${r.code ? `  EXIT ${r.code}` : ''}`);
        if (r.code !== 0) log(r.stderr.slice(-800));
        if (i) runs[k].push(r);
      }
    }
    out.push(scaleEntry(n, runs, apply, { before, after: load1() }));
  }
  const ok = out.filter((e) => !e.error);
  for (const e of ok) if (e !== ok[0]) e.mb_per_added_host = round((e.peak_mb - ok[0].peak_mb) / (e.hosts - ok[0].hosts), 3);
  return out;
}

/** What a failed fettle run says: how many hosts by status and the first errors. */
function failedHosts(run) {
  try {
    const doc = JSON.parse(run.stdout);
    const byStatus = {};
    for (const h of doc.hosts) byStatus[h.status] = (byStatus[h.status] ?? 0) + 1;
    const errors = [...new Set(doc.hosts.map((h) => h.error ?? h.items?.find((i) => i.error)?.error).filter(Boolean))].slice(0, 3);
    return `${JSON.stringify(byStatus)} ${errors.join(' / ')}`.slice(0, 600);
  } catch {
    return run.stderr.slice(-600);
  }
}

function scaleEntry(n, [fettle, floor], apply, load) {
  const med = (rs, f) => median(rs.map(f));
  const wall = med(fettle, (r) => r.wall);
  const floorWall = med(floor, (r) => r.wall);
  const cpu = med(fettle, (r) => r.cpu);
  const floorCpu = med(floor, (r) => r.cpu);
  const peak = Math.max(...fettle.map((r) => r.peakKb)) / 1024;
  const floorPeak = Math.max(...floor.map((r) => r.peakKb)) / 1024;
  return {
    hosts: n,
    runs: fettle.length,
    median_s: round(wall),
    floor_s: round(floorWall),
    vs_floor: round(wall / floorWall, 2),
    cpu_s: round(cpu, 2),
    floor_cpu_s: round(floorCpu, 2),
    cpu_ms_per_host: round((cpu / n) * 1000, 2),
    floor_cpu_ms_per_host: round((floorCpu / n) * 1000, 2),
    cpu_vs_floor: round(cpu / floorCpu, 2),
    peak_mb: round(peak, 1),
    floor_peak_mb: round(floorPeak, 1),
    mb_per_host: round(peak / n, 3),
    floor_mb_per_host: round(floorPeak / n, 3),
    connections: round(fettle.at(-1).counts.connections / n, 2),
    execs: round(fettle.at(-1).counts.execs / n, 2),
    floor_connections: round(floor.at(-1).counts.connections / n, 2),
    exit_codes: [...fettle, ...floor].map((r) => r.code),
    cold_apply_s: round(apply.wall),
    cold_apply_failure: apply.failure,
    cold_apply_peak_mb: round(apply.peakKb / 1024, 1),
    load,
  };
}

// ---------------------------------------------------------------------------- main

function stopMasters() {
  // ControlPersist masters the peers left behind (sockets in our own folders only).
  for (const dir of [path.join(WORK, 'cm'), path.join(WORK, 'ansible', 'cp')]) {
    if (!existsSync(dir)) continue;
    for (const sock of readdirSync(dir)) {
      spawnSync('ssh', ['-o', `ControlPath=${path.join(dir, sock)}`, '-O', 'exit', 'x'], { stdio: 'ignore' });
    }
  }
}

const NOTES = () => [
  'fettle = the site as `fettle.config.mjs` (plain JS: what a performance-minded user writes); fettle-ts = the same site as `fettle.config.ts`, its compile cached by the CLI (the warm-up fills the cache); fettle-ts-nocache = the .ts site with the cache removed inside the timed command, i.e. compiled by esbuild on every run as before the cache.',
  `Interleaved: in each case the first run of every tool (fettle, the floor, the .ts variants, the peers, in that order), then round after round one run of each tool that still wants one. A tool whose first run takes over ${SLOW_S} s counts that first run and makes ${SLOW_RUNS} in all (${STRONG_SLOW_RUNS} for bundlewrap-tuned when under ${2 * SLOW_S} s; runs column marked *). A run is stopped at ${CAP_S} s (bundlewrap-tuned, fettle and the floors at ${opt['cap-strong']} s): shown as "> ${CAP_S}", a lower bound, with no counts.`,
  'cold: the targets are removed inside the timed command, for every tool and the cold floor alike. warm and verify start from the workload in place (an untimed fettle apply before each run makes sure of it). After every apply run of every tool, the cold floor included, every file, the folder and the link are checked: exactly the workload\'s bytes, modes 0644/0755, owner root:root, the link\'s target.',
  'The floor: one Node process with plain ssh2, one connection and one command per host reading every piece of state (stat, sha256sum, dpkg-query), comparing nothing. The cold floor: one connection and one command per host receiving the workload as a tar stream, extracting it into a temp folder beside the target, fsyncing the files and the folder (`sync --`: fettle promises that much), renaming it into place, and running `dpkg-query` for the three packages (installed already; an apply must still know it). `cold-floor-nofsync` is the same without the fsync (the issue\'s bare definition): a cold fettle row shows its ratio to both, and the cold target is judged against the bare one.',
  'connections/execs/sftp per host come from the sshd log of the last counted run. The tuned peers reuse ControlPersist masters opened by an earlier run (the warm-up, or the previous case), so they often show 0 connections: the handshake was paid before. Ansible as shipped also has ControlPersist=60s in its default ssh_args.',
  'Peak MB: GNU time %M, the resident set of the largest single process of the timed command (for Ansible, the largest of its forks; for BundleWrap, its Python process; ssh client processes are separate and smaller).',
  'Ansible plays run with gather_facts: false (fewer round trips than as shipped); BundleWrap as shipped runs 4 nodes at a time (its default -p 4), both variants; tuned BundleWrap differs only by ControlMaster auto + ControlPersist in its ssh config.',
];

async function main() {
  const started = new Date();
  setup({ root: ROOT, tools: TOOLS, log });
  mkdirSync(WORK, { recursive: true });
  const load0 = loadavg().map((x) => round(x, 2));
  log(`load average at start: ${load0.join(' ')}`);
  const benchHosts = hostNames(Math.max(...HOST_COUNTS));
  const width = SCALE.length ? Math.max(3, String(Math.max(...SCALE)).length) : 3;
  const scaleHosts = SCALE.length ? hostNames(Math.max(...SCALE), width).map((h) => h.replace('node', 's')) : [];
  const { somaxconn, restore } = SCALE.length ? raiseSomaxconn() : { somaxconn: null, restore: () => {} };
  sshd = await startSshd({ hosts: [...benchHosts, ...scaleHosts], maxSessions: 1024, maxStartups: '2048', nofile: NOFILE });
  command = commands({ bench: BENCH, work: WORK, cli: CLI, sshd });
  log(`sshd pid ${sshd.pid} on 127.0.0.1:${sshd.port}, targets ${sshd.targets}`);
  // Interrupted: stop the command being timed, the peers' masters and sshd, put somaxconn back.
  const interrupted = async () => {
    stopTimed();
    stopMasters();
    await sshd.stop({ keep: opt.keep });
    restore();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const notes = NOTES();
  let scale = [];
  try {
    fettleSite({ dir: path.join(WORK, 'fettle-site'), repoRoot: ROOT, hosts: benchHosts, sshd, lang: 'mjs' });
    fettleSite({ dir: path.join(WORK, 'fettle-site-ts'), repoRoot: ROOT, hosts: benchHosts, sshd, lang: 'ts' });
    sshConfig({ file: path.join(WORK, 'ssh_config'), hosts: benchHosts, sshd, tuned: false });
    sshConfig({ file: path.join(WORK, 'ssh_config_tuned'), hosts: benchHosts, sshd, tuned: true, controlDir: path.join(WORK, 'cm') });
    bundlewrapRepo({ dir: path.join(WORK, 'bw'), hosts: benchHosts, sshd });
    ansibleProject({ dir: path.join(WORK, 'ansible'), hosts: benchHosts, sshd });
    for (const n of HOST_COUNTS) for (const kase of CASES) await measureCase(kase, benchHosts.slice(0, n));
    if (SCALE.length) scale = await scaleCase(SCALE);
  } finally {
    stopMasters();
    await sshd.stop({ keep: opt.keep });
    restore();
  }
  ratios();
  const limits = [
    `open files (RLIMIT_NOFILE) ${nofile.before} → ${nofile.after} for the bench's process tree (fettle, the floors) and sshd, gone with the run`,
    'sshd MaxStartups 2048, MaxSessions 1024',
    somaxconn ? `net.core.somaxconn ${somaxconn.before}${somaxconn.after === somaxconn.before ? ' (high enough, left alone)' : ` → ${somaxconn.after}, restored at the end`}` : null,
  ].filter(Boolean).join('; ');
  const doc = {
    date: started.toISOString(),
    duration_s: round((Date.now() - started.getTime()) / 1000, 1),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '?', mem_gb: round(totalmem() / 2 ** 30, 1) },
    load: { start: load0, end: loadavg().map((x) => round(x, 2)) },
    versions: versions({ root: ROOT, work: WORK, tools: TOOLS }),
    settings: { runs: RUNS, slow_runs: SLOW_RUNS, strong_slow_runs: STRONG_SLOW_RUNS, cap_s: CAP_S, cap_strong_s: Number(opt['cap-strong']), slow_threshold_s: SLOW_S, tools: TOOLS, hosts: HOST_COUNTS, cases: CASES, scale: SCALE, scale_runs: SCALE_RUNS, scale_concurrency: SCALE_J },
    limits,
    cases: results,
    scale,
    notes,
  };
  mkdirSync(opt.out, { recursive: true });
  writeFileSync(path.join(opt.out, 'latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(path.join(opt.out, 'latest.md'), markdown(doc));
  // The README shows the last table of a run written to bench/results.
  const readme = path.join(BENCH, 'README.md');
  if (path.resolve(opt.out) === path.join(BENCH, 'results') && existsSync(readme)) {
    const text = readFileSync(readme, 'utf8');
    const next = text.replace(/<!-- results:start -->[\s\S]*<!-- results:end -->/, () => `<!-- results:start -->\n${markdown(doc).replace(/^# .*\n\n/, '')}<!-- results:end -->`);
    writeFileSync(readme, next);
  }
  log(`\nwrote ${path.join(opt.out, 'latest.json')} and latest.md in ${doc.duration_s} s`);
  process.stdout.write(markdown(doc));
}

await main();
