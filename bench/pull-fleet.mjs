#!/usr/bin/env node
// The pull-mode scale simulation: N simulated nodes (processes, each with its own sandbox root and its own
// age key) pull one published site from one Verdaccio at randomized start times, like a fleet on timers.
// Measures the time until the fleet has converged, the registry's requests and bytes, its CPU time, and
// each node's CPU time and peak memory (GNU time); then a second round where every node is up to date
// (the steady state of a timer). Writes bench/results/pull-fleet.json and prints a summary.
//
//   node bench/pull-fleet.mjs [--nodes 200] [--spread 90] [--steady-spread 30] [--keep]
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH, '..');
const CLI = path.join(REPO, 'packages/cli/dist/bin.js');
const { startRegistry } = await import(path.join(REPO, 'packages/testkit/dist/index.js'));

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    spread: { type: 'string', default: '90' },
    'steady-spread': { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH, 'results') },
  },
});
const NODES = Number(args.nodes);
const SPREAD_S = Number(args.spread);
const STEADY_SPREAD_S = Number(args['steady-spread']);
const names = Array.from({ length: NODES }, (_, i) => `node${String(i).padStart(4, '0')}`);
const work = mkdtempSync(path.join(tmpdir(), 'fettle-pull-fleet-'));
const site = path.join(work, 'site');
const log = (line) => process.stderr.write(`[pull-fleet] ${line}\n`);

/** The site: N hosts, a few files each (one from a secret every node reads with its own key). */
function makeSite() {
  mkdirSync(path.join(site, 'node_modules/@fettle'), { recursive: true });
  for (const [name, dir] of [['core', 'packages/core'], ['items-files', 'plugins/items-files'], ['transport-local', 'plugins/transport-local'], ['secrets-age', 'plugins/secrets-age']]) {
    symlinkSync(path.join(REPO, dir), path.join(site, 'node_modules/@fettle', name));
  }
  const controllerKey = path.join(work, 'controller.key');
  execFileSync('age-keygen', ['-o', controllerKey], { stdio: 'ignore' });
  chmodSync(controllerKey, 0o600);
  const controller = execFileSync('age-keygen', ['-y', controllerKey], { encoding: 'utf8' }).trim();
  mkdirSync(path.join(site, 'keys/hosts'), { recursive: true });
  mkdirSync(path.join(site, 'secrets'));
  const recipients = ['-r', controller];
  for (const name of names) {
    const root = path.join(work, 'nodes', name);
    mkdirSync(path.join(root, 'etc/fettle'), { recursive: true });
    const key = path.join(root, 'etc/fettle/node.age');
    execFileSync('age-keygen', ['-o', key], { stdio: 'ignore' });
    chmodSync(key, 0o600);
    const pub = execFileSync('age-keygen', ['-y', key], { encoding: 'utf8' }).trim();
    writeFileSync(path.join(site, `keys/hosts/${name}.pub`), `${pub}\n`);
    recipients.push('-r', pub);
  }
  writeFileSync(path.join(site, 'secrets/token.age'), execFileSync('age', ['-a', ...recipients], { input: 'fleet-token-value' }));
  writeFileSync(path.join(site, 'secrets/token.readers.json'), JSON.stringify({ hosts: names }));
  writeFileSync(path.join(site, 'package.json'), JSON.stringify({ name: '@fettle-test/fleet-site', version: '1.0.0', type: 'module' }));
  writeFileSync(
    path.join(site, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import ageSecrets, { ageSecretStore } from '@fettle/secrets-age';

const names = ${JSON.stringify(names)};
export default defineSite({
  plugins: [files, local, ageSecrets],
  hosts: new MemoryHostStore({ hosts: Object.fromEntries(names.map((name) => [name, { transport: 'local' }])), defaultRoles: ['base'] }),
  secrets: ageSecretStore({ dir: import.meta.dirname, controllerRecipient: ${JSON.stringify(controller)}, keySource: { file: ${JSON.stringify(controllerKey)} } }),
  roles: {
    base: (host, { secret }) => ({
      'directory:/etc/app': { mode: '0755' },
      'file:/etc/app/motd': { content: \`managed by fettle pull on \${host.name}\\n\` },
      'file:/etc/app/app.conf': { content: 'workers = 4\\nlisten = 0.0.0.0:8080\\n' },
      'file:/etc/app/token': { content: secret('token') },
      'symlink:/etc/app/current': { target: 'app.conf' },
    }),
  },
});
`,
  );
}

function fettle(command, env) {
  return execFileSync(process.execPath, [CLI, ...command, '--site', site, '--json'], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
}

/** /proc/PID/stat utime+stime of the registry process, in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One node's pull, under GNU time: wall, user+sys CPU and peak RSS of the pull and the run it starts. */
function pullNode(name, bundle, registryUrl, env) {
  return new Promise((resolve) => {
    const root = path.join(work, 'nodes', name);
    const started = Date.now();
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, bundle, 'pull', '--node', name, '--root', root, '--registry', registryUrl, '--json'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => {
      const time = /TIME (\S+) (\S+) (\S+) (\S+)/.exec(stderr);
      let report;
      try {
        report = JSON.parse(stdout);
      } catch {
        report = undefined;
      }
      resolve({ name, code, started, finished: Date.now(), cpu: time ? Number(time[2]) + Number(time[3]) : NaN, rssKb: time ? Number(time[4]) : NaN, report, error: code === 0 ? undefined : `${report?.error ?? stdout.slice(-300)} ${stderr.slice(-200)}` });
    });
  });
}

async function round(label, bundle, registry, spreadS, verdaccioPid) {
  const env = { PATH: process.env.PATH, HOME: work, NO_COLOR: '1' };
  const cpuBefore = cpuSeconds(verdaccioPid);
  const t0 = Date.now();
  log(`${label}: ${NODES} nodes, start times spread over ${spreadS} s`);
  const results = await Promise.all(
    names.map(
      (name) =>
        new Promise((resolve) => {
          setTimeout(() => pullNode(name, bundle, registry.url, env).then(resolve), Math.random() * spreadS * 1000);
        }),
    ),
  );
  const wall = (Date.now() - t0) / 1000;
  const ok = results.filter((result) => result.code === 0 && result.report?.success);
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const pct = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  };
  const cpu = results.map((result) => result.cpu);
  const rss = results.map((result) => result.rssKb / 1024);
  const durations = results.map((result) => (result.finished - result.started) / 1000);
  const requests = sum(results.map((result) => result.report?.registry?.requests ?? 0));
  const bytes = sum(results.map((result) => result.report?.registry?.bytes ?? 0));
  const summary = {
    label,
    nodes: NODES,
    spreadS,
    succeeded: ok.length,
    failed: results.filter((result) => !(result.code === 0 && result.report?.success)).map((result) => ({ name: result.name, code: result.code, error: result.error })).slice(0, 5),
    convergedAfterS: Math.max(...results.map((result) => result.finished - t0)) / 1000,
    wallS: wall,
    itemsChanged: sum(results.map((result) => (result.report?.skipped ? 0 : (result.report?.summary?.changed ?? 0)))),
    skipped: results.filter((result) => result.report?.skipped).length,
    registry: { requests, bytes, bytesPerNode: Math.round(bytes / NODES), requestsPerNode: requests / NODES, cpuS: cpuSeconds(verdaccioPid) - cpuBefore },
    nodeCpuS: { mean: sum(cpu) / NODES, p50: pct(cpu, 50), p95: pct(cpu, 95), max: Math.max(...cpu) },
    nodePeakRssMb: { mean: sum(rss) / NODES, p50: pct(rss, 50), p95: pct(rss, 95), max: Math.max(...rss) },
    pullDurationS: { p50: pct(durations, 50), p95: pct(durations, 95), max: Math.max(...durations) },
  };
  log(`${label}: ${summary.succeeded}/${NODES} ok, converged after ${summary.convergedAfterS.toFixed(1)} s; registry ${requests} requests, ${(bytes / 1e6).toFixed(1)} MB, ${summary.registry.cpuS.toFixed(1)} CPU s; node CPU mean ${summary.nodeCpuS.mean.toFixed(2)} s, peak RSS mean ${summary.nodePeakRssMb.mean.toFixed(0)} MB`);
  return summary;
}

const loadStart = loadavg();
const registry = await startRegistry({ uplink: false });
try {
  // Verdaccio renames its process; find it by the port it listens on.
  const port = new URL(registry.url).port;
  const verdaccioPid = Number(/pid=(\d+)/.exec(execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' }))?.[1]);
  log(`site with ${NODES} hosts and ${NODES} node keys in ${work}`);
  makeSite();
  const env = registry.env({ NO_COLOR: '1' });
  const build = JSON.parse(fettle(['build'], env));
  fettle(['publish'], env);
  log(`published ${build.name}@${build.version}`);
  const first = await round('first pull (new version everywhere)', build.bundle, registry, SPREAD_S, verdaccioPid);
  const steady = await round('steady state (every node up to date)', build.bundle, registry, STEADY_SPREAD_S, verdaccioPid);
  const tarballBytes = readFileSync(build.tarball).length;
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadStart, loadEnd: loadavg() },
    site: { name: build.name, version: build.version, tarballBytes, bundleBytes: readFileSync(build.bundle).length },
    rounds: [first, steady],
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'pull-fleet.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await registry.stop();
  if (!args.keep) rmSync(work, { recursive: true, force: true });
}
