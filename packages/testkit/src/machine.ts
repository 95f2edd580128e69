import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

import { run, runOk, sleep, type RunResult } from './exec.js';
import { parseSshdLog, type SshdCounts, type SshdMark } from './log.js';
import {
  destroyMachineNow,
  machineDirPrefix,
  machineProcesses,
  spawnMachineWatchdog,
  trackMachine,
  untrackMachine,
  type LiveMachine,
} from './machine-cleanup.js';
import { machineTreeReady, prepareMachineTree, type MachineTreeOptions } from './machine-tree.js';
import { freePort, isAlive, sshFingerprint, waitGone, type SshInventoryHost } from './sshd.js';

export interface StartMachineOptions extends MachineTreeOptions {
  /** How long systemd may take to settle; default 120 s (a loaded CI machine is slow). */
  bootTimeoutMs?: number;
  /** The loopback port sshd should listen on; default a free one (another is picked if it turns out taken). */
  sshPort?: number;
  /** Where progress lines go (the tree build takes minutes the first time); default stderr. */
  log?: (line: string) => void;
}

/** A booted Debian host: systemd as PID 1, the distribution's ssh.service on its own loopback port. */
export interface Machine extends AsyncDisposable {
  readonly name: string;
  readonly address: '127.0.0.1';
  readonly port: number;
  /** The kit's client key logs in as root (the container's own root). */
  readonly user: 'root';
  /** The container's "/" as seen from the test machine (an overlay over the cached tree). */
  readonly root: string;
  /** Pid (in the test machine's namespace) of the container's systemd. */
  readonly initPid: number;
  /** What `systemctl is-system-running --wait` answered once the boot settled (`running`, or `degraded`). */
  readonly bootState: string;
  /** Milliseconds from starting systemd-nspawn to a settled system with sshd accepting. */
  readonly bootMs: number;
  readonly clientKeyPath: string;
  readonly clientKey: string;
  readonly clientPublicKey: string;
  readonly hostPublicKey: string;
  readonly hostKeyFingerprint: string;
  readonly knownHostsPath: string;
  /** The host's sshd log (`LogLevel VERBOSE`, written inside the tree with `sshd -E`). */
  readonly logPath: string;
  counts(): Promise<SshdCounts>;
  mark(): Promise<SshdMark>;
  countsSince(mark: SshdMark): Promise<SshdCounts>;
  readLog(since?: SshdMark): Promise<string>;
  /** The inventory entry reaching this host with `@fettle/transport-ssh` (no target root: the whole machine). */
  inventoryHost(transportOptions?: Readonly<Record<string, unknown>>): SshInventoryHost;
  /** Arguments for the system `ssh` client; add `root@127.0.0.1 cmd`. */
  sshArgs(): string[];
  /** Runs `sh -c command` inside the host, bypassing sshd (so it never shows in the counts). */
  exec(command: string, timeoutMs?: number): Promise<RunResult>;
  /** Like exec, but throws unless the exit code is 0; resolves with trimmed stdout. */
  sh(command: string, timeoutMs?: number): Promise<string>;
  /** Powers the host off, unmounts its tree, removes its dir; idempotent. */
  readonly stop: () => Promise<void>;
}

/** Why booted hosts cannot run here, or undefined when they can. Synchronous, for `describe.skipIf`. */
export function machineSupport(options: MachineTreeOptions = {}): string | undefined {
  if (process.platform !== 'linux') return `booted hosts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'booted hosts need root (systemd-nspawn and overlay mounts); run the tests as root';
  if (!existsSync('/usr/bin/systemd-nspawn')) return 'systemd-nspawn is missing: apt-get install systemd-container (scripts/bootstrap.mjs does it)';
  if (!existsSync('/usr/bin/nsenter')) return 'nsenter is missing: apt-get install util-linux';
  if (!/\toverlay\n/.test(readFileSync('/proc/filesystems', 'utf8'))) return 'the kernel has no overlay filesystem';
  if (!machineTreeReady(options) && !existsSync('/usr/sbin/debootstrap')) {
    return 'debootstrap is missing and no cached tree exists: apt-get install debootstrap (scripts/bootstrap.mjs does it)';
  }
  return undefined;
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      sock.destroy();
      done(ok);
    };
    sock.once('connect', () => finish(true));
    sock.once('error', () => finish(false));
    sock.setTimeout(1000, () => finish(false));
  });
}

/** The container's PID 1 once it runs systemd (nspawn forks helpers first, which exit). */
function containerInit(nspawnPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim().split(/\s+/);
    for (const child of children.map(Number)) {
      if (child > 0 && readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'systemd') return child;
    }
  } catch {
    // not there yet, or gone meanwhile
  }
  return undefined;
}

async function tail(path: string, chars = 3000): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

function sshdConfig(port: number): string {
  return [
    '# generated by @fettle/testkit for a booted host',
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // No PAM: each exec would otherwise open a logind session, slow and not what the counts measure.
    'UsePAM no',
    'Subsystem sftp internal-sftp',
    'MaxSessions 32',
    'MaxStartups 64:30:128',
    'SetEnv SHLVL=1',
    'LogLevel VERBOSE', // the session lines counts() parses
    'PrintMotd no',
    '',
  ].join('\n');
}

const HOST_NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/;

/**
 * Boots one Debian host for tests: an overlay of the cached tree (so hosts cannot
 * see each other and the cache stays clean), systemd-nspawn with systemd as PID 1
 * sharing the test machine's network, and the distribution's ssh.service set to
 * listen on a free loopback port with the kit's keys. Call `stop()` in `afterAll`.
 */
export async function startMachine(name: string, options: StartMachineOptions = {}): Promise<Machine> {
  if (!HOST_NAME_RE.test(name)) throw new Error(`testkit: invalid machine name ${JSON.stringify(name)} (lowercase letters, digits, dashes)`);
  const why = machineSupport(options);
  if (why) throw new Error(`testkit: cannot boot a host: ${why}`);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tree = await prepareMachineTree(options, log);

  const dir = await mkdtemp(machineDirPrefix());
  const root = join(dir, 'root');
  await Promise.all(['upper', 'work', 'root'].map((d) => mkdir(join(dir, d))));
  try {
    await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${tree},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const state: LiveMachine = { dir, root, nspawnPid: 0, initPid: undefined, watchdogPid: undefined };
  trackMachine(state);
  try {
    return await boot(name, state, options);
  } catch (err) {
    destroyMachineNow(state);
    throw err;
  }
}

async function installKeys(dir: string, root: string, name: string, port: number) {
  const clientKeyPath = join(dir, 'client_ed25519');
  const hostKeyPath = join(root, 'etc/ssh/ssh_host_ed25519_key');
  await Promise.all(
    [clientKeyPath, hostKeyPath].map((f) => runOk('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-C', `fettle-testkit-${name}`, '-f', f])),
  );
  const pub = async (f: string) => (await readFile(`${f}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  const clientPublicKey = await pub(clientKeyPath);
  const hostPublicKey = await pub(hostKeyPath);
  await mkdir(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(root, 'root/.ssh/authorized_keys'), `${clientPublicKey}\n`, { mode: 0o600 });
  await writeFile(join(root, 'etc/ssh/sshd_config'), sshdConfig(port), { mode: 0o644 });
  // ssh.service passes $SSHD_OPTS: the log goes to a file the kit reads from outside.
  await mkdir(join(root, 'var/log/fettle-testkit'), { recursive: true });
  await writeFile(join(root, 'etc/default/ssh'), 'SSHD_OPTS="-E /var/log/fettle-testkit/sshd.log"\n');
  await writeFile(join(root, 'etc/hostname'), `${name}\n`);
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`, { mode: 0o644 });
  return { clientKeyPath, clientKey: await readFile(clientKeyPath, 'utf8'), clientPublicKey, hostPublicKey, knownHostsPath };
}

async function boot(name: string, state: LiveMachine, options: StartMachineOptions): Promise<Machine> {
  const { dir, root } = state;
  let port = options.sshPort ?? (await freePort());
  const keys = await installKeys(dir, root, name, port);
  const consolePath = join(dir, 'console.log');
  const started = Date.now();
  const consoleFd = openSync(consolePath, 'a');
  const machineName = `fettle-${name}-${randomBytes(3).toString('hex')}`;
  const child = spawn(
    'systemd-nspawn',
    ['-D', root, `--machine=${machineName}`, `--hostname=${name}`, '--register=no', '--keep-unit', '-b', '--console=pipe'],
    // Its own session: a Ctrl-C meant for the test runner must not kill the container mid-test.
    { detached: true, stdio: ['ignore', consoleFd, consoleFd] },
  );
  closeSync(consoleFd);
  child.on('error', () => undefined);
  child.unref();
  if (child.pid === undefined) throw new Error('testkit: systemd-nspawn did not start');
  state.nspawnPid = child.pid;

  const timeout = options.bootTimeoutMs ?? 120_000;
  const deadline = Date.now() + timeout;
  const failure = async (what: string) =>
    new Error(`testkit: host ${name} ${what}\n--- console ---\n${await tail(consolePath)}\n--- sshd log ---\n${await tail(join(root, 'var/log/fettle-testkit/sshd.log'))}`);
  while (state.initPid === undefined) {
    if (!isAlive(state.nspawnPid)) throw await failure(': systemd-nspawn exited during boot');
    if (Date.now() >= deadline) throw await failure(`did not start systemd within ${timeout} ms`);
    state.initPid = containerInit(state.nspawnPid);
    if (state.initPid === undefined) await sleep(20);
  }
  state.watchdogPid = spawnMachineWatchdog(state);
  const initPid = state.initPid;
  const inside = (command: string, ms = 60_000) => run('nsenter', ['-t', String(initPid), '-a', 'sh', '-c', command], ms);

  // --wait returns once the boot job queue is empty: `running`, or `degraded` if a unit failed.
  let bootState = '';
  let answer = '';
  while (!['running', 'degraded'].includes(bootState)) {
    if (Date.now() >= deadline) throw await failure(`did not settle within ${timeout} ms (systemctl is-system-running: ${answer})`);
    const res = await inside('systemctl is-system-running --wait', Math.max(1000, deadline - Date.now()));
    bootState = res.stdout.trim();
    answer = `${bootState} ${res.stderr.trim()}`.trim();
    if (!['running', 'degraded'].includes(bootState)) await sleep(100);
  }
  // A free port picked before boot can be taken meanwhile: sshd then fails to bind
  // (whoever holds the port may well accept connections), so pick another and restart it.
  for (let attempt = 1; ; ) {
    const sshState = (await inside('systemctl is-active ssh.service')).stdout.trim();
    if (sshState === 'active' && (await portAccepts(port))) break;
    if (sshState === 'failed' && attempt < 3) {
      attempt++;
      port = await freePort();
      await writeFile(join(root, 'etc/ssh/sshd_config'), sshdConfig(port), { mode: 0o644 });
      await writeFile(keys.knownHostsPath, `[127.0.0.1]:${port} ${keys.hostPublicKey}\n`, { mode: 0o644 });
      await inside('systemctl reset-failed ssh.service; systemctl restart ssh.service');
      continue;
    }
    if (Date.now() >= deadline || sshState === 'failed') {
      const journal = (await inside('journalctl -u ssh.service -n 30 --no-pager')).stdout;
      throw await failure(`: sshd does not accept on 127.0.0.1:${port}\n--- journal of ssh.service ---\n${journal}`);
    }
    await sleep(50);
  }
  return machineHandle(name, state, { ...keys, port, bootState, bootMs: Date.now() - started, inside });
}

interface BootFacts {
  port: number;
  bootState: string;
  bootMs: number;
  clientKeyPath: string;
  clientKey: string;
  clientPublicKey: string;
  hostPublicKey: string;
  knownHostsPath: string;
  inside: (command: string, ms?: number) => Promise<RunResult>;
}

function machineHandle(name: string, state: LiveMachine, facts: BootFacts): Machine {
  const logPath = join(state.root, 'var/log/fettle-testkit/sshd.log');
  const size = async () => (await readFile(logPath).catch(() => Buffer.alloc(0))).length;
  /** sshd writes from several processes: wait until the log stops growing. */
  const settle = async () => {
    const deadline = Date.now() + 500;
    let prev = await size();
    for (;;) {
      await sleep(20);
      const cur = await size();
      if (cur === prev || Date.now() >= deadline) return cur;
      prev = cur;
    }
  };
  const readLog = async (since?: SshdMark) => {
    await settle();
    return (await readFile(logPath).catch(() => Buffer.alloc(0))).subarray(since?.offset ?? 0).toString('utf8');
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= powerOff(state);
    return stopping;
  };
  const { port, clientKeyPath, knownHostsPath } = facts;
  return {
    name,
    address: '127.0.0.1',
    port,
    user: 'root',
    root: state.root,
    initPid: state.initPid ?? 0,
    bootState: facts.bootState,
    bootMs: facts.bootMs,
    clientKeyPath,
    clientKey: facts.clientKey,
    clientPublicKey: facts.clientPublicKey,
    hostPublicKey: facts.hostPublicKey,
    hostKeyFingerprint: sshFingerprint(facts.hostPublicKey),
    knownHostsPath,
    logPath,
    counts: async () => parseSshdLog(await readLog()),
    mark: async () => ({ offset: await settle() }),
    countsSince: async (m) => parseSshdLog(await readLog(m)),
    readLog,
    inventoryHost: (extra = {}) => ({
      transport: 'ssh',
      address: '127.0.0.1',
      port,
      user: 'root',
      transportOptions: { identityFile: clientKeyPath, knownHosts: knownHostsPath, sshConfig: false, agent: false, ...extra },
    }),
    sshArgs: () => ['-i', clientKeyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(port)],
    exec: (command, ms) => facts.inside(command, ms),
    sh: async (command, ms) => {
      const res = await facts.inside(command, ms);
      if (res.code !== 0) throw new Error(`on ${name}: ${command} failed with exit code ${String(res.code)}: ${(res.stderr || res.stdout).trim()}`);
      return res.stdout.trim();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** SIGTERM to systemd-nspawn asks the container to halt; SIGKILL to its init if it will not. */
async function powerOff(state: LiveMachine): Promise<void> {
  if (state.watchdogPid !== undefined) {
    try {
      process.kill(state.watchdogPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  try {
    process.kill(state.nspawnPid, 'SIGTERM');
  } catch {
    // already gone
  }
  if (!(await waitGone(state.nspawnPid, 20_000)) || machineProcesses(state.dir).length > 0) {
    for (const pid of [...machineProcesses(state.dir), state.initPid, state.nspawnPid]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitGone(state.nspawnPid, 5000);
  }
  const umount = await run('umount', [state.root]);
  if (umount.code !== 0) await run('umount', ['-l', state.root]);
  await rm(state.dir, { recursive: true, force: true });
  untrackMachine(state);
}
