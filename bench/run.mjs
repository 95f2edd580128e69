#!/usr/bin/env node
// fettle vs BundleWrap vs Ansible vs the floor, on the BENCH-WORKLOAD.md workload, over one
// real sshd on 127.0.0.1, in one run. See bench/README.md.
//
//   node bench/run.mjs [--runs 3] [--slow-runs 1] [--tools fettle,floor,...] [--hosts 1,8]
//                      [--cases cold,warm,verify] [--no-scale] [--no-peers] [--scale 1,8,32,128]
//                      [--site mjs|ts] [--out bench/results] [--keep]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSshd } from './lib/sshd.mjs';
import { ansibleProject, bundlewrapRepo, fettleSite, hostNames, render, sshConfig } from './lib/gen.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const WORK = path.join(BENCH, '.work');
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'slow-runs': { type: 'string', default: '1' },
    'slow-threshold': { type: 'string', default: '20' },
    cap: { type: 'string', default: '45' },
    'strong-slow-runs': { type: 'string', default: '3' },
    'cap-strong': { type: 'string', default: '300' },
    tools: { type: 'string', default: 'fettle,floor,fettle-ts,fettle-ts-nocache,bundlewrap-tuned,bundlewrap,ansible-tuned,ansible' },
    hosts: { type: 'string', default: '1,8' },
    cases: { type: 'string', default: 'cold,warm,verify' },
    scale: { type: 'string', default: '1,8,32,128' },
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
const capFor = (tool) => (tool === 'bundlewrap-tuned' || tool.startsWith('fettle') || tool === 'floor' ? Number(opt['cap-strong']) : CAP_S);
let TOOLS = opt.tools.split(',').filter(Boolean);
if (opt['no-peers']) TOOLS = TOOLS.filter((t) => t.startsWith('fettle') || t === 'floor');
const HOST_COUNTS = opt.hosts.split(',').map(Number);
const CASES = opt.cases.split(',');
const SCALE = opt['no-scale'] ? [] : opt.scale.split(',').filter(Boolean).map(Number);

const log = (...a) => { if (!opt.quiet) console.error(...a); };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const round = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();

// ---------------------------------------------------------------------------- setup

function setup() {
  const missing = [];
  if (!existsSync('/usr/bin/time')) missing.push('time');
  if (TOOLS.some((t) => t.startsWith('bundlewrap')) && spawnSync('sh', ['-c', 'command -v bw']).status !== 0) missing.push('bundlewrap');
  if (TOOLS.some((t) => t.startsWith('ansible')) && spawnSync('sh', ['-c', 'command -v ansible-playbook']).status !== 0) missing.push('ansible-core');
  if (!existsSync('/usr/sbin/sshd')) missing.push('openssh-server');
  if (missing.length) {
    log(`installing ${missing.join(' ')} …`);
    execFileSync('apt-get', ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  for (const [pkg, dist] of [
    ['@fettle/cli', 'packages/cli/dist/bin.js'],
    ['@fettle/core', 'packages/core/dist/index.js'],
    ['@fettle/items-files', 'plugins/items-files/dist/index.js'],
    ['@fettle/items-apt', 'plugins/items-apt/dist/index.js'],
    ['@fettle/transport-ssh', 'plugins/transport-ssh/dist/index.js'],
  ]) {
    if (!existsSync(path.join(ROOT, dist))) execFileSync('pnpm', ['--filter', pkg, 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
}

function versions() {
  const v = (cmd) => { try { return sh(cmd).split('\n')[0]; } catch { return null; } };
  return {
    node: process.version,
    fettle: JSON.parse(readFileSync(path.join(ROOT, 'packages/cli/package.json'), 'utf8')).version,
    fettle_commit: v(`git -C ${ROOT} rev-parse --short HEAD`),
    bundlewrap: v('bw --version'),
    // ANSIBLE_HOME: even --version creates ~/.ansible/tmp otherwise.
    ansible: v(`ANSIBLE_HOME=${path.join(WORK, 'ansible', 'home')} ansible-playbook --version 2>/dev/null | head -1`),
    openssh: v('ssh -V 2>&1'),
  };
}

// ---------------------------------------------------------------------------- timing

/**
 * Run one command under /usr/bin/time: wall seconds (measured here, process start to exit),
 * peak RSS (GNU time's %M: the largest single process of the command's tree, in KiB).
 */
function timed(argv, { env = {}, cwd = ROOT, timeoutMs = 20 * 60_000 } = {}) {
  const stats = path.join(WORK, 'time.out');
  rmSync(stats, { force: true });
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %e %U %S', '-o', stats, ...argv], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a capped run is stopped whole
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wall = Number(process.hrtime.bigint() - start) / 1e9;
      const [kb, , user, sys] = existsSync(stats) ? readFileSync(stats, 'utf8').trim().split('\n').pop().split(' ').map(Number) : [];
      resolve({ code, wall, peakKb: kb ?? null, cpu: (user ?? 0) + (sys ?? 0), stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------- tools

let sshd;
const bwEnv = (tuned) => ({ BW_SSH_ARGS: `-F ${path.join(WORK, tuned ? 'ssh_config_tuned' : 'ssh_config')}`, BW_REPO_PATH: path.join(WORK, 'bw') });
const ansibleEnv = (tuned) => ({
  ANSIBLE_CONFIG: path.join(WORK, 'ansible', tuned ? 'ansible-tuned.cfg' : 'ansible.cfg'),
  ANSIBLE_HOME: path.join(WORK, 'ansible', 'home'),
  ANSIBLE_NOCOLOR: '1',
});

/** argv (and env) for one tool, case and host list. */
function command(tool, kase, hosts) {
  const clean = `rm -rf ${hosts.map((h) => `${sshd.targets}/${h}/d`).join(' ')}`;
  const withClean = (argv) => (kase === 'cold' ? ['sh', '-c', `${clean} && exec "$@"`, 'cold', ...argv] : argv);
  const list = hosts.join(',');
  switch (tool) {
    case 'fettle':
    case 'fettle-ts':
    case 'fettle-ts-nocache': {
      const site = path.join(WORK, tool === 'fettle' ? 'fettle-site' : 'fettle-site-ts');
      const mode = kase === 'verify' ? 'verify' : 'apply';
      const argv = withClean(['node', CLI, mode, '--site', site, '--json', list]);
      // The .ts site as before the compile cache: every run compiles fettle.config.ts with esbuild.
      if (tool === 'fettle-ts-nocache') return { argv: ['sh', '-c', `rm -rf ${site}/node_modules/.cache/fettle && exec "$@"`, 'nocache', ...argv] };
      return { argv };
    }
    case 'floor':
      return { argv: ['node', path.join(BENCH, 'floor.mjs'), String(sshd.port), sshd.clientKey, sshd.knownHosts, sshd.targets, ...hosts] };
    case 'bundlewrap':
    case 'bundlewrap-tuned': {
      const tuned = tool.endsWith('tuned');
      const sub = kase === 'verify' ? ['verify'] : ['apply'];
      return { argv: withClean(['bw', ...sub, ...hosts]), env: bwEnv(tuned), cwd: path.join(WORK, 'bw') };
    }
    case 'ansible':
    case 'ansible-tuned': {
      const tuned = tool.endsWith('tuned');
      const argv = ['ansible-playbook', path.join(WORK, 'ansible', 'playbook.yml'), '--limit', list];
      if (kase === 'verify') argv.push('--check');
      return { argv: withClean(argv), env: ansibleEnv(tuned), cwd: path.join(WORK, 'ansible') };
    }
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

/** Tool-specific facts from one run's output: fettle's per-host round trips and changes. */
function details(tool, out) {
  if (!tool.startsWith('fettle')) return {};
  try {
    const doc = JSON.parse(out.stdout);
    const rt = doc.hosts.map((h) => h.roundTrips);
    return {
      summary: doc.summary,
      round_trips: { execs: Math.max(...rt.map((r) => r.execs)), fileWrites: Math.max(...rt.map((r) => r.fileWrites)) },
    };
  } catch {
    return { unparsed: out.stdout.slice(0, 300) };
  }
}

/** Content check: every target holds exactly the workload (cross-checks every tool's output). */
function checkTargets(hosts) {
  for (const h of hosts) {
    const d = `${sshd.targets}/${h}/d`;
    for (const i of [1, 37, 100]) {
      const file = `${d}/file${String(i).padStart(3, '0')}.txt`;
      const text = readFileSync(file, 'utf8');
      if (text !== render(i, h)) throw new Error(`${file} differs from the workload:\n${JSON.stringify(text)}`);
    }
    const link = sh(`readlink ${d}/first.txt`);
    if (link !== `${d}/file001.txt`) throw new Error(`${d}/first.txt -> ${link}`);
    const modes = sh(`stat -c '%a %U %G' ${d} ${d}/file050.txt`).split('\n');
    if (modes[0] !== '755 root root' || modes[1] !== '644 root root') throw new Error(`${d}: modes ${modes.join(' / ')}`);
  }
}

const results = [];

/** Put the workload in place (untimed) so that a warm or verify case starts from the right state. */
async function ensureApplied(hosts) {
  const out = await timed(['node', CLI, 'apply', '--site', path.join(WORK, 'fettle-site'), '--json', hosts.join(',')]);
  if (out.code !== 0) throw new Error(`could not put the workload in place:\n${out.stdout.slice(-800)}${out.stderr.slice(-800)}`);
}

/**
 * One tool × case × host count. The first run is a warm-up; then RUNS counted runs. A case
 * whose first run takes longer than SLOW_S seconds is a slow case: that first run is
 * counted (no separate warm-up), plus SLOW_RUNS - 1 more (STRONG_SLOW_RUNS - 1 for
 * bundlewrap-tuned when that first run took under 2 × SLOW_S).
 */
async function measure(tool, kase, nHosts, hosts) {
  const cmd = command(tool, kase, hosts);
  const one = async (label) => {
    if (kase !== 'cold') await ensureApplied(hosts);
    const mark = await sshd.mark();
    const cap = capFor(tool);
    const out = await timed(cmd.argv, { env: cmd.env, cwd: cmd.cwd, timeoutMs: cap * 1000 });
    const counts = await sshd.countsSince(mark);
    // A bw run stopped at the cap leaves its node locks behind: the next run would refuse.
    if (tool.startsWith('bundlewrap')) rmSync(path.join(sshd.dir, 'bw-locks'), { recursive: true, force: true });
    const ok = out.code === 0;
    const capped = out.wall >= cap;
    log(`  ${label.padEnd(7)} ${tool.padEnd(17)} ${kase.padEnd(6)} ${String(nHosts).padStart(3)}h  ${out.wall.toFixed(3)} s  ${((out.peakKb ?? 0) / 1024).toFixed(1)} MB  conn ${counts.connections} exec ${counts.execs} sftp ${counts.sftp}${ok ? '' : `  EXIT ${out.code}`}${capped ? ' (cap)' : ''}`);
    if (!ok && !capped) log(`${out.stdout.slice(-1500)}\n${out.stderr.slice(-1500)}`);
    return { ...out, counts, capped };
  };
  const first = await one('first');
  const slow = first.wall > SLOW_S;
  const counted = slow ? [first] : [];
  const want = !slow ? RUNS : tool === 'bundlewrap-tuned' && first.wall < 2 * SLOW_S ? STRONG_SLOW_RUNS : SLOW_RUNS;
  while (counted.length < want && !first.capped) counted.push(await one(`run ${counted.length + 1}`));
  let error;
  try {
    if (kase !== 'verify' && tool !== 'floor' && !first.capped) checkTargets(hosts);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    log(`  ${tool} ${kase} ${nHosts}h: the targets are not the workload: ${error}`);
  }
  const last = counted[counted.length - 1];
  const entry = {
    tool,
    case: kase,
    hosts: nHosts,
    median_s: round(median(counted.map((r) => r.wall))),
    min_s: round(Math.min(...counted.map((r) => r.wall))),
    max_s: round(Math.max(...counted.map((r) => r.wall))),
    runs: counted.length,
    warmup: !slow,
    capped: first.capped ? capFor(tool) : undefined,
    peak_mb: round(Math.max(...counted.map((r) => r.peakKb ?? 0)) / 1024, 1),
    cpu_s: round(median(counted.map((r) => r.cpu)), 2),
    connections: round(last.counts.connections / nHosts, 2),
    execs: round(last.counts.execs / nHosts, 2),
    sftp: round(last.counts.sftp / nHosts, 2),
    totals: last.counts,
    exit_codes: counted.map((r) => r.code),
    error,
    ...details(tool, last),
  };
  results.push(entry);
  return entry;
}

// ---------------------------------------------------------------------------- scale

async function scaleCase(counts, runs) {
  const out = [];
  for (const n of counts) {
    const hosts = hostNames(n, 3).map((h) => h.replace('node', 's'));
    const site = fettleSite({ dir: path.join(WORK, `fettle-scale-${n}`), repoRoot: ROOT, hosts, sshd, lang: 'mjs' });
    const apply = await timed(['node', CLI, 'apply', '--site', site, '--json']);
    if (apply.code !== 0) throw new Error(`scale ${n}: apply failed\n${apply.stdout.slice(-800)}${apply.stderr.slice(-800)}`);
    log(`  scale apply ${n} hosts (cold): ${apply.wall.toFixed(2)} s, ${(apply.peakKb / 1024).toFixed(1)} MB`);
    const argv = ['node', CLI, 'verify', '--site', site, '--json'];
    await timed(argv); // warm-up
    const rs = [];
    for (let i = 0; i < runs; i++) {
      const mark = await sshd.mark();
      const r = await timed(argv);
      r.counts = await sshd.countsSince(mark);
      if (r.code !== 0) throw new Error(`scale ${n}: verify exit ${r.code}\n${r.stderr.slice(-800)}`);
      rs.push(r);
      log(`  scale verify ${String(n).padStart(3)} hosts: ${r.wall.toFixed(3)} s  ${(r.peakKb / 1024).toFixed(1)} MB  conn ${r.counts.connections} exec ${r.counts.execs}`);
    }
    // The floor on the same hosts, for scale: how much of the growth is the server's.
    const floorArgv = ['node', path.join(BENCH, 'floor.mjs'), String(sshd.port), sshd.clientKey, sshd.knownHosts, sshd.targets, ...hosts];
    await timed(floorArgv);
    const fl = [];
    for (let i = 0; i < runs; i++) fl.push(await timed(floorArgv));
    log(`  scale floor  ${String(n).padStart(3)} hosts: ${median(fl.map((r) => r.wall)).toFixed(3)} s`);
    const peak = Math.max(...rs.map((r) => r.peakKb)) / 1024;
    const entry = {
      tool: 'fettle',
      case: 'verify',
      hosts: n,
      median_s: round(median(rs.map((r) => r.wall))),
      runs: rs.length,
      peak_mb: round(peak, 1),
      cpu_s: round(median(rs.map((r) => r.cpu)), 2),
      connections: round(rs.at(-1).counts.connections / n, 2),
      execs: round(rs.at(-1).counts.execs / n, 2),
      sftp: round(rs.at(-1).counts.sftp / n, 2),
      floor_s: round(median(fl.map((r) => r.wall))),
      vs_floor: round(median(rs.map((r) => r.wall)) / median(fl.map((r) => r.wall)), 2),
      cold_apply_s: round(apply.wall),
      cold_apply_peak_mb: round(apply.peakKb / 1024, 1),
    };
    out.push(entry);
  }
  const base = out[0];
  for (const e of out) {
    e.s_per_host = round(e.median_s / e.hosts, 4);
    if (base && e !== base) e.mb_per_added_host = round((e.peak_mb - base.peak_mb) / (e.hosts - base.hosts), 3);
  }
  return out;
}

// ---------------------------------------------------------------------------- report

function ratios() {
  const find = (tool, kase, hosts) => results.find((r) => r.tool === tool && r.case === kase && r.hosts === hosts);
  for (const r of results) {
    const fettle = find('fettle', r.case, r.hosts);
    if (fettle && r.tool !== 'fettle') r.vs_fettle = round(r.median_s / fettle.median_s, 2);
    if (r.tool.startsWith('fettle')) {
      // The floor measured in the same case, right after fettle: the two saw the same machine load.
      const floor = find('floor', r.case, r.hosts) ?? find('floor', 'verify', r.hosts);
      if (floor && r.case !== 'cold') r.vs_floor = round(r.median_s / floor.median_s, 2);
    }
  }
}

function markdown(doc) {
  const lines = [];
  lines.push(`# fettle benchmark — ${doc.date}`, '');
  lines.push(`Machine: ${doc.machine.cpus} × ${doc.machine.cpu_model}, ${doc.machine.mem_gb} GB; load average ${doc.load.start.join(' / ')} at start, ${doc.load.end.join(' / ')} at the end. ${Object.entries(doc.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  lines.push(`Median wall seconds of ${RUNS} runs after a warm-up (runs column: fewer for the slow peer cases, see notes). Peak memory: GNU time %M, the largest single process of the controller's tree. connections / execs / sftp: per host, from the sshd log, in one counted run. "× fettle": that tool's median / fettle's (fettle = the .mjs site). "× floor": fettle's median / the floor's.`, '');
  lines.push('| tool | case | hosts | median s | runs | peak MB | conn/host | exec/host | sftp/host | × fettle | × floor |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const order = ['fettle', 'floor', 'fettle-ts', 'fettle-ts-nocache', 'bundlewrap-tuned', 'bundlewrap', 'ansible-tuned', 'ansible'];
  const sorted = [...doc.cases].sort((a, b) => a.hosts - b.hosts || ['cold', 'warm', 'verify'].indexOf(a.case) - ['cold', 'warm', 'verify'].indexOf(b.case) || order.indexOf(a.tool) - order.indexOf(b.tool));
  for (const r of sorted) {
    const time = r.capped ? `> ${r.capped}` : r.median_s.toFixed(3);
    const gt = r.capped ? '> ' : '';
    const counts = r.capped ? ['–', '–', '–'] : [r.connections, r.execs, r.sftp];
    const failed = !r.capped && (r.error || r.exit_codes?.some((code) => code !== 0)) ? ` (failed: ${r.error ? 'targets wrong' : `exit ${r.exit_codes.join(',')}`})` : '';
    lines.push(`| ${r.tool}${failed} | ${r.case} | ${r.hosts} | ${time} | ${r.runs}${r.warmup ? '' : '*'} | ${r.capped ? '–' : r.peak_mb} | ${counts.join(' | ')} | ${r.vs_fettle === undefined ? '' : gt + r.vs_fettle} | ${r.vs_floor ?? ''} |`);
  }
  if (doc.scale.length) {
    lines.push('', '## Scale: fettle warm no-op verify', '');
    lines.push('| hosts | median s | s/host | peak MB | MB/host | MB per added host | conn/host | exec/host | floor s | × floor | cold apply s | cold apply peak MB |');
    lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const s of doc.scale) lines.push(`| ${s.hosts} | ${s.median_s.toFixed(3)} | ${s.s_per_host} | ${s.peak_mb} | ${round(s.peak_mb / s.hosts, 2)} | ${s.mb_per_added_host ?? ''} | ${s.connections} | ${s.execs} | ${s.floor_s} | ${s.vs_floor} | ${s.cold_apply_s} | ${s.cold_apply_peak_mb} |`);
  }
  if (doc.notes.length) lines.push('', '## Notes', '', ...doc.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------- main

async function stopMasters() {
  // ControlPersist masters the peers left behind (sockets in our own folders only).
  for (const dir of [path.join(WORK, 'cm'), path.join(WORK, 'ansible', 'cp')]) {
    if (!existsSync(dir)) continue;
    for (const sock of readdirSync(dir)) {
      spawnSync('ssh', ['-o', `ControlPath=${path.join(dir, sock)}`, '-O', 'exit', 'x'], { stdio: 'ignore' });
    }
  }
}

async function main() {
  const started = new Date();
  setup();
  mkdirSync(WORK, { recursive: true });
  const load0 = loadavg().map((x) => round(x, 2));
  log(`load average at start: ${load0.join(' ')}`);
  const benchHosts = hostNames(Math.max(...HOST_COUNTS));
  const scaleHosts = SCALE.length ? hostNames(Math.max(...SCALE), 3).map((h) => h.replace('node', 's')) : [];
  sshd = await startSshd({ hosts: [...benchHosts, ...scaleHosts], maxSessions: 100, maxStartups: '200' });
  log(`sshd pid ${sshd.pid} on 127.0.0.1:${sshd.port}, targets ${sshd.targets}`);
  const notes = [];
  let scale = [];
  try {
    fettleSite({ dir: path.join(WORK, 'fettle-site'), repoRoot: ROOT, hosts: benchHosts, sshd, lang: 'mjs' });
    fettleSite({ dir: path.join(WORK, 'fettle-site-ts'), repoRoot: ROOT, hosts: benchHosts, sshd, lang: 'ts' });
    sshConfig({ file: path.join(WORK, 'ssh_config'), hosts: benchHosts, sshd, tuned: false });
    sshConfig({ file: path.join(WORK, 'ssh_config_tuned'), hosts: benchHosts, sshd, tuned: true, controlDir: path.join(WORK, 'cm') });
    bundlewrapRepo({ dir: path.join(WORK, 'bw'), hosts: benchHosts, sshd });
    ansibleProject({ dir: path.join(WORK, 'ansible'), hosts: benchHosts, sshd });

    for (const n of HOST_COUNTS) {
      const hosts = benchHosts.slice(0, n);
      for (const kase of CASES) {
        for (const tool of TOOLS) {
          // The floor reads state; it runs in the warm and verify cases, right after fettle.
          if (tool === 'floor' && kase === 'cold') continue;
          await measure(tool, kase, n, hosts);
        }
      }
    }
    if (SCALE.length) scale = await scaleCase(SCALE, RUNS);
  } finally {
    await stopMasters();
    await sshd.stop({ keep: opt.keep });
  }
  ratios();
  notes.push(
    `fettle = the site as \`fettle.config.mjs\` (plain JS: what a performance-minded user writes); fettle-ts = the same site as \`fettle.config.ts\`, its compile cached by the CLI (the warm-up fills the cache); fettle-ts-nocache = the .ts site with the cache removed inside the timed command, i.e. compiled by esbuild on every run as before the cache.`,
    `Runs: a warm-up, then ${RUNS} counted runs; a case whose first run takes over ${SLOW_S} s counts that first run and makes ${SLOW_RUNS} in all (${STRONG_SLOW_RUNS} for bundlewrap-tuned when under ${2 * SLOW_S} s; runs column marked *). A run is stopped at ${CAP_S} s (bundlewrap-tuned, fettle and the floor at ${opt['cap-strong']} s): shown as "> ${CAP_S}", a lower bound, with no counts.`,
    'cold: the targets are removed inside the timed command. warm and verify start from the workload in place (an untimed fettle apply before each run makes sure of it). Every apply case is checked afterwards: the files, link and modes are exactly the workload.',
    'connections/execs/sftp per host come from the sshd log of the last counted run. The tuned peers reuse ControlPersist masters opened by an earlier run (the warm-up, or the previous case), so they often show 0 connections: the handshake was paid before. Ansible as shipped also has ControlPersist=60s in its default ssh_args.',
    'Peak MB: GNU time %M, the resident set of the largest single process of the timed command (for Ansible, the largest of its forks; for BundleWrap, its Python process; ssh client processes are separate and smaller).',
    'Ansible plays run with gather_facts: false (fewer round trips than as shipped); BundleWrap as shipped runs 4 nodes at a time (its default -p 4), both variants; tuned BundleWrap differs only by ControlMaster auto + ControlPersist in its ssh config.',
    'The floor is one Node process with plain ssh2: one connection and one command per host reading every piece of state (stat, sha256sum, dpkg-query), comparing nothing. It is the same command in the warm and verify rows, measured right after fettle in each, so that "× floor" (fettle\'s median / the floor\'s, same case) compares runs made under the same machine load.',
  );
  const doc = {
    date: started.toISOString(),
    duration_s: round((Date.now() - started.getTime()) / 1000, 1),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '?', mem_gb: round(totalmem() / 2 ** 30, 1) },
    load: { start: load0, end: loadavg().map((x) => round(x, 2)) },
    versions: versions(),
    settings: { runs: RUNS, slow_runs: SLOW_RUNS, strong_slow_runs: STRONG_SLOW_RUNS, cap_s: CAP_S, cap_strong_s: Number(opt['cap-strong']), slow_threshold_s: SLOW_S, tools: TOOLS, hosts: HOST_COUNTS, cases: CASES },
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
