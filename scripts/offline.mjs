#!/usr/bin/env node
// Runs a command with no network but loopback: in a network namespace of its own (unshare
// --net) whose `lo` is brought up. The test suite runs this way, so a test that reaches for
// anything beyond 127.0.0.0/8 (a mirror, a public registry) fails instead of quietly depending on
// the internet; tests may still create network namespaces of their own inside it.
// Needs root (CAP_SYS_ADMIN) and util-linux's unshare and iproute2's ip, which
// scripts/bootstrap.mjs installs; without them the command runs as is, after a notice.
//   node scripts/offline.mjs vitest run
import { spawnSync } from 'node:child_process';

const command = process.argv.slice(2);
if (command.length === 0) {
  process.stderr.write('usage: node scripts/offline.mjs COMMAND [ARG...]\n');
  process.exit(3);
}

const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' });
const isolated = probe.status === 0;
// FETTLE_OFFLINE tells the tests where they run (packages/testkit/src/offline.test.ts checks the namespace holds).
const argv = isolated ? ['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && export FETTLE_OFFLINE=1 && exec "$@"', 'sh', ...command] : command;
if (!isolated) {
  process.stderr.write('offline: cannot make a loopback-only network namespace here (needs root, unshare and ip); running with the network\n');
}
const [program = '', ...args] = argv;
const result = spawnSync(program, args, { stdio: 'inherit' });
if (result.error) {
  process.stderr.write(`offline: ${result.error.message}\n`);
  process.exit(127);
}
// Interrupted: the same signal's exit code, as a shell would report it.
process.exit(result.status ?? (result.signal === 'SIGINT' ? 130 : 1));
