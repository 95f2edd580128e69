// Each tool's command line for one case and host list, what the bench installs or builds
// before it starts, and the versions it records.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const PEERS = ['bundlewrap-tuned', 'bundlewrap', 'ansible-tuned', 'ansible'];

/**
 * The tools of one case, in run order: `floor` stands for the two cold floors in a cold case
 * (with fsync, as fettle's atomic writes promise, and without, the issue's bare definition).
 */
export function toolsFor(tools, kase) {
  const out = [];
  for (const t of tools) {
    const wanted = t === 'floor' && kase === 'cold' ? ['cold-floor', 'cold-floor-nofsync'] : [t];
    for (const tool of wanted) {
      if (tool.startsWith('cold-floor') && kase !== 'cold') continue;
      if (!out.includes(tool)) out.push(tool);
    }
  }
  return out;
}

/** `command(tool, kase, hosts)` → { argv, env?, cwd? } for the bench's sshd and inputs in `work`. */
export function commands({ bench, work, cli, sshd, concurrency }) {
  const j = concurrency ? ['-j', String(concurrency)] : [];
  const sshArgs = (hosts) => [...j, String(sshd.port), sshd.clientKey, sshd.knownHosts, sshd.targets, ...hosts];
  const bwEnv = (tuned) => ({ BW_SSH_ARGS: `-F ${path.join(work, tuned ? 'ssh_config_tuned' : 'ssh_config')}`, BW_REPO_PATH: path.join(work, 'bw') });
  const ansibleEnv = (tuned) => ({
    ANSIBLE_CONFIG: path.join(work, 'ansible', tuned ? 'ansible-tuned.cfg' : 'ansible.cfg'),
    ANSIBLE_HOME: path.join(work, 'ansible', 'home'),
    ANSIBLE_NOCOLOR: '1',
  });
  return (tool, kase, hosts, site) => {
    const clean = `rm -rf ${hosts.map((h) => `${sshd.targets}/${h}/d`).join(' ')}`;
    // cold: the targets are removed inside the timed command, for every tool alike.
    const withClean = (argv) => (kase === 'cold' ? ['sh', '-c', `${clean} && exec "$@"`, 'cold', ...argv] : argv);
    const list = hosts.join(',');
    switch (tool) {
      case 'fettle':
      case 'fettle-ts':
      case 'fettle-ts-nocache': {
        site ??= path.join(work, tool === 'fettle' ? 'fettle-site' : 'fettle-site-ts');
        const mode = kase === 'verify' ? ['verify'] : ['apply'];
        const argv = withClean(['node', cli, ...mode, '--site', site, '--json', ...j, list]);
        // The .ts site as before the compile cache: every run compiles fettle.config.ts with esbuild.
        if (tool === 'fettle-ts-nocache') return { argv: ['sh', '-c', `rm -rf ${site}/node_modules/.cache/fettle && exec "$@"`, 'nocache', ...argv] };
        return { argv };
      }
      case 'floor':
        return { argv: ['node', path.join(bench, 'floor.mjs'), ...sshArgs(hosts)] };
      case 'cold-floor':
        return { argv: withClean(['node', path.join(bench, 'cold-floor.mjs'), ...sshArgs(hosts)]) };
      case 'cold-floor-nofsync':
        return { argv: withClean(['node', path.join(bench, 'cold-floor.mjs'), '--no-fsync', ...sshArgs(hosts)]) };
      case 'bundlewrap':
      case 'bundlewrap-tuned': {
        const tuned = tool.endsWith('tuned');
        return { argv: withClean(['bw', kase === 'verify' ? 'verify' : 'apply', ...hosts]), env: bwEnv(tuned), cwd: path.join(work, 'bw') };
      }
      case 'ansible':
      case 'ansible-tuned': {
        const tuned = tool.endsWith('tuned');
        const argv = ['ansible-playbook', path.join(work, 'ansible', 'playbook.yml'), '--limit', list];
        if (kase === 'verify') argv.push('--check');
        return { argv: withClean(argv), env: ansibleEnv(tuned), cwd: path.join(work, 'ansible') };
      }
      default:
        throw new Error(`unknown tool ${tool}`);
    }
  };
}

/** Install what the chosen tools need (Debian packages) and build the fettle packages if needed. */
export function setup({ root, tools, log }) {
  const missing = [];
  if (!existsSync('/usr/bin/time')) missing.push('time');
  if (tools.some((t) => t.startsWith('bundlewrap')) && spawnSync('sh', ['-c', 'command -v bw']).status !== 0) missing.push('bundlewrap');
  if (tools.some((t) => t.startsWith('ansible')) && spawnSync('sh', ['-c', 'command -v ansible-playbook']).status !== 0) missing.push('ansible-core');
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
    if (!existsSync(path.join(root, dist))) execFileSync('pnpm', ['--filter', pkg, 'build'], { cwd: root, stdio: 'inherit' });
  }
}

export function versions({ root, work, tools }) {
  const uses = (prefix) => tools.some((t) => t.startsWith(prefix));
  const v = (cmd) => { try { return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim().split('\n')[0]; } catch { return null; } };
  return {
    node: process.version,
    fettle: JSON.parse(readFileSync(path.join(root, 'packages/cli/package.json'), 'utf8')).version,
    fettle_commit: v(`git -C ${root} rev-parse --short HEAD`),
    bundlewrap: uses('bundlewrap') ? v('bw --version') : undefined,
    // ANSIBLE_HOME: even --version creates ~/.ansible/tmp otherwise.
    ansible: uses('ansible') ? v(`ANSIBLE_HOME=${path.join(work, 'ansible', 'home')} ansible-playbook --version 2>/dev/null | head -1`) : undefined,
    openssh: v('ssh -V 2>&1'),
  };
}
