#!/usr/bin/env node
// Start the bench sshd, generate the sites and repos under bench/.work, put the workload in
// place, then wait (until SIGINT/SIGTERM) so you can profile or rerun one tool by hand:
//   node bench/serve.mjs &   # prints the commands to try
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd } from './lib/sshd.mjs';
import { ansibleProject, bundlewrapRepo, fettleSite, hostNames, sshConfig } from './lib/gen.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const WORK = path.join(BENCH, '.work');
const hosts = hostNames(8);
const scale = Number(process.argv[2] ?? 0);
const scaleHosts = scale ? hostNames(scale, Math.max(3, String(scale).length)).map((h) => h.replace('node', 's')) : [];
const sshd = await startSshd({ hosts: [...hosts, ...scaleHosts], maxSessions: 1024, maxStartups: '2048', nofile: 65536 });
const site = fettleSite({ dir: path.join(WORK, 'fettle-site'), repoRoot: ROOT, hosts, sshd, lang: 'mjs' });
fettleSite({ dir: path.join(WORK, 'fettle-site-ts'), repoRoot: ROOT, hosts, sshd, lang: 'ts' });
if (scale) fettleSite({ dir: path.join(WORK, `fettle-scale-${scale}`), repoRoot: ROOT, hosts: scaleHosts, sshd, lang: 'mjs' });
sshConfig({ file: path.join(WORK, 'ssh_config'), hosts, sshd, tuned: false });
sshConfig({ file: path.join(WORK, 'ssh_config_tuned'), hosts, sshd, tuned: true, controlDir: path.join(WORK, 'cm') });
bundlewrapRepo({ dir: path.join(WORK, 'bw'), hosts, sshd });
ansibleProject({ dir: path.join(WORK, 'ansible'), hosts, sshd });
execFileSync('node', [path.join(ROOT, 'packages/cli/dist/bin.js'), 'apply', '--site', site, '--json'], { stdio: 'ignore' });
console.log(`sshd pid ${sshd.pid} port ${sshd.port} dir ${sshd.dir}
  node packages/cli/dist/bin.js verify --site ${site} --json
  node bench/floor.mjs ${sshd.port} ${sshd.clientKey} ${sshd.knownHosts} ${sshd.targets} ${hosts.join(' ')}
  rm -rf ${sshd.targets}/node0?/d && node bench/cold-floor.mjs ${sshd.port} ${sshd.clientKey} ${sshd.knownHosts} ${sshd.targets} ${hosts.join(' ')}
  (cd ${path.join(WORK, 'bw')} && BW_SSH_ARGS="-F ${path.join(WORK, 'ssh_config_tuned')}" bw verify node01)
  ANSIBLE_CONFIG=${path.join(WORK, 'ansible', 'ansible-tuned.cfg')} ansible-playbook ${path.join(WORK, 'ansible', 'playbook.yml')} --check --limit node01`);
const stop = async () => { await sshd.stop(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => undefined, 1 << 30);
