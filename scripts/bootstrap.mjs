#!/usr/bin/env node
// Makes a fresh Debian machine ready for `npm run demo` and `npm test`: the Debian
// packages the tests use (sshd, age, sudo), pnpm, the workspace's dependencies, and
// a build, and the Debian tree booted test hosts start from. Every step is skipped when
// already done, so a second run costs little.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = '10.34.9';
const DEBIAN_PACKAGES = {
  '/usr/sbin/sshd': 'openssh-server',
  '/usr/bin/age': 'age',
  '/usr/bin/sudo': 'sudo',
  '/usr/bin/ssh': 'openssh-client',
  // The batch script's process count (core batch.test.ts) is taken with strace.
  '/usr/bin/strace': 'strace',
  // Booted test hosts (@fettle/testkit machines): containers and the Debian tree they boot.
  '/usr/bin/systemd-nspawn': 'systemd-container',
  '/usr/sbin/debootstrap': 'debootstrap',
  // The tests run in a network namespace of their own with only loopback (scripts/offline.mjs).
  '/usr/bin/unshare': 'util-linux',
  '/usr/sbin/ip': 'iproute2',
};
const quiet = process.argv.includes('--quiet');
const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  CI: process.env.CI ?? 'true',
  DEBIAN_FRONTEND: 'noninteractive',
};

function log(message) {
  if (!quiet) process.stderr.write(`bootstrap: ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) {
    process.stderr.write(`bootstrap: '${command} ${args.join(' ')}' failed (exit ${result.status})\n`);
    process.exit(result.status ?? 1);
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

// 1. Debian packages (only as root; elsewhere say what is missing).
const missing = Object.entries(DEBIAN_PACKAGES).filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  if (process.getuid?.() === 0 && has('apt-get')) {
    log(`installing ${missing.join(', ')}`);
    run('apt-get', ['update', '-qq', '-o', 'DPkg::Lock::Timeout=300']);
    run('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
  } else {
    log(`missing Debian packages ${missing.join(', ')}: install them (as root: apt-get install ${missing.join(' ')}); SSH and age tests need them`);
  }
}
if (process.getuid?.() === 0 && !existsSync('/run/sshd')) run('mkdir', ['-p', '/run/sshd']);

// 2. pnpm, pinned.
const pnpmVersion = has('pnpm') ? execFileSync('pnpm', ['--version'], { env, encoding: 'utf8' }).trim() : '';
if (pnpmVersion !== PNPM_VERSION) {
  log(`installing pnpm ${PNPM_VERSION}`);
  run('npm', ['install', '--global', '--no-fund', '--no-audit', `pnpm@${PNPM_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// 3. Dependencies and build (turbo caches the build, so a second run is quick).
run('pnpm', ['install', '--frozen-lockfile', '--reporter=silent']);
run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only', '--ui=stream', '--log-prefix=none']);

// 4. Verdaccio, the npm registry the distribution tests start: a private npm project outside
// the workspace, since 6.8.0 needs node-fetch pinned to 2.7.0 to run on Node 20 (an npm override).
const verdaccioDir = path.join(root, 'tools/verdaccio');
const verdaccioManifest = path.join(verdaccioDir, 'node_modules/verdaccio/package.json');
const wantedVerdaccio = JSON.parse(readFileSync(path.join(verdaccioDir, 'package.json'), 'utf8')).dependencies.verdaccio;
if (!existsSync(verdaccioManifest) || JSON.parse(readFileSync(verdaccioManifest, 'utf8')).version !== wantedVerdaccio) {
  log(`installing verdaccio ${wantedVerdaccio} in tools/verdaccio`);
  run('npm', ['ci', '--no-fund', '--no-audit', '--loglevel=error'], { cwd: verdaccioDir, stdio: ['ignore', 'ignore', 'inherit'] });
}

// 5. The Debian tree booted test hosts start from (debootstrap, about 2 minutes once; cached
// in /var/cache/fettle-testkit by its package list, so later runs reuse it). Root only:
// elsewhere the machine tests skip and say why.
if (process.getuid?.() === 0 && existsSync('/usr/bin/systemd-nspawn')) {
  const testkit = path.join(root, 'packages/testkit/dist/index.js');
  const { machineSupport, machineTreeReady, prepareMachineTree } = await import(testkit);
  const why = machineSupport();
  if (why) log(`booted test hosts unavailable: ${why}`);
  else if (!machineTreeReady()) await prepareMachineTree({}, log);
}
