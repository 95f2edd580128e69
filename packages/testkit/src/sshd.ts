import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

import { run, runOk, sleep } from './exec.js';
import { parseSshdLog, type SshdCounts, type SshdMark } from './log.js';

/** Absolute path on purpose: sshd refuses to re-exec itself when started by a relative name. */
export const SSHD_PATH = '/usr/sbin/sshd';

export interface StartSshdOptions {
  /** Names of target roots to create under `<dir>/targets/<name>`; default `['node1']`. */
  hosts?: string[];
  /** sshd `MaxSessions` (channels per connection); default 32 (sshd's own default of 10 is tight for pools). */
  maxSessions?: number;
  /** sshd `MaxStartups`; default `"64:30:128"` so parallel test connections are not dropped. */
  maxStartups?: string;
  /**
   * Extra sshd_config text. sshd keeps the *first* value of a keyword, so plain lines are
   * placed before the kit's defaults (they win); from the first `Match` line on, the text
   * is placed at the end, where Match blocks must live.
   */
  extraConfig?: string;
  /** Keep the temp dir (logs, keys, targets) after `stop()`; also enabled by env `FETTLE_TESTKIT_KEEP=1`. */
  keepDir?: boolean;
}

export interface SshdHost {
  name: string;
  /** Absolute path of the target root dir (mode 0755) a test can use as this host's "/". */
  root: string;
}

/** Plain data for a fettle inventory: the ssh transport's host entry. */
export interface SshInventoryHost {
  readonly transport: 'ssh';
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly transportOptions: Readonly<Record<string, unknown>>;
}

export interface SshdKit extends AsyncDisposable {
  readonly port: number;
  readonly address: '127.0.0.1';
  /** Private temp dir (mode 0700) holding keys, config, log and targets. */
  readonly dir: string;
  /** The user the kit's client key logs in as: the current user (root in CI). */
  readonly user: string;
  /** Pid of the daemonised sshd listener. */
  readonly pid: number;
  readonly clientKeyPath: string;
  /** OpenSSH private key text of the client key. */
  readonly clientKey: string;
  /** `ssh-ed25519 AAAA…` of the client key. */
  readonly clientPublicKey: string;
  readonly hostKeyPath: string;
  /** `ssh-ed25519 AAAA…` of the host key (no comment). */
  readonly hostPublicKey: string;
  /** `SHA256:…` exactly as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** known_hosts file holding `[127.0.0.1]:PORT ssh-ed25519 AAAA…`. */
  readonly knownHostsPath: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly hosts: Readonly<Record<string, SshdHost>>;
  /** True once `stop()` has been called. */
  readonly stopped: boolean;
/** Counts over the whole log, after waiting briefly for sshd to finish writing. */
  counts(): Promise<SshdCounts>;
  /** The current end of the log; pass it to `countsSince` to count only later activity. */
  mark(): Promise<SshdMark>;
  countsSince(mark: SshdMark): Promise<SshdCounts>;
  /** Raw log text (from a mark, if given); handy in assertion messages. */
  readLog(since?: SshdMark): Promise<string>;
  /** An OpenSSH client config block (`Host <alias>` …) that logs in to this sshd. */
  sshConfig(hostAlias?: string): string;
  /** Arguments for the system `ssh` client (key, known_hosts, strict checking, port); add `user@127.0.0.1 cmd`. */
  sshArgs(): string[];
  /**
   * A fettle inventory entry (MemoryHostStore `hosts` value) reaching this sshd with
   * `@fettle/transport-ssh`, confined to the named test host's target root.
   */
  inventoryHost(name: string, transportOptions?: Readonly<Record<string, unknown>>): SshInventoryHost;
  /**
   * SIGKILL every session process (the per-connection sshd and what it runs) at
   * once, as if the host died mid-run; the listener stays, so a rerun can connect.
   * With `SIGSTOP` the host goes silent instead (the TCP connection stays open):
   * what keepalives are for. Returns how many processes were signalled.
   */
  readonly killSessions: (signal?: NodeJS.Signals) => number;
  /**
   * SIGTERM the daemon and its session processes, wait until gone, remove `dir`
   * (unless `keepDir`); idempotent. A function property so `afterAll(kit.stop)` works unbound.
   */
  readonly stop: () => Promise<void>;
}

/**
 * `SHA256:<base64 without padding>` of the key blob, the same as `ssh-keygen -lf`.
 * Accepts an `ssh-ed25519 AAAA… [comment]` line or a known_hosts line.
 */
export function sshFingerprint(publicKey: string): string {
  const fields = publicKey.trim().split(/\s+/);
  const blob = fields.find((f) => f.startsWith('AAAA'));
  if (!blob) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 40)}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

// ---------------------------------------------------------------------------
// Emergency cleanup: tests that crash or forget stop() must not leave sshd behind.

interface LiveKit {
  dir: string;
  keepDir: boolean;
  watchdogPid: number | undefined;
}
const live = new Map<number, LiveKit>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: process.kill and rmSync are.
  process.once('exit', () => {
    for (const [pid, k] of live) {
      for (const child of childPids(pid)) trySignal(child, 'SIGTERM');
      trySignal(pid, 'SIGTERM');
      if (k.watchdogPid !== undefined) trySignal(k.watchdogPid, 'SIGTERM');
      if (!k.keepDir) rmSync(k.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

/**
 * The 'exit' hook does not run when the test process is SIGKILLed (e.g. a hung
 * worker killed by the runner), so a detached shell polls our pid and takes the
 * daemon down if we vanish first. stop() kills the watchdog.
 */
function spawnWatchdog(sshdPid: number, dir: string, keepDir: boolean): number | undefined {
  const script = [
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done',
    'if kill -0 "$2" 2>/dev/null; then',
    '  pkill -TERM -P "$2" 2>/dev/null; kill -TERM "$2" 2>/dev/null',
    '  if [ "$4" = rm ]; then sleep 1; rm -rf "$3"; fi',
    'fi',
  ].join('\n');
  try {
    const child = spawn(
      '/bin/sh',
      ['-c', script, 'fettle-sshd-watchdog', String(process.pid), String(sshdPid), dir, keepDir ? 'keep' : 'rm'],
      { detached: true, stdio: 'ignore' },
    );
    child.on('error', () => undefined); // best effort: no /bin/sh just means no watchdog
    child.unref();
    return child.pid;
  } catch {
    return undefined;
  }
}

function trySignal(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** /proc/<pid>/stat fields after the `(comm)`; comm may contain spaces and parens. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Alive = exists and is not a zombie (a container's pid 1 may never reap the daemon). */
/** Whether a process still runs (a zombie does not). */
export function isAlive(pid: number): boolean {
  const fields = procStat(pid);
  if (fields) return fields[0] !== 'Z';
  return trySignal(pid, 0);
}

/** sshd per-connection processes are direct children of the listener (they setsid, so not in its group). */
function childPids(parent: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const fields = procStat(Number(e));
    if (fields && Number(fields[1]) === parent) out.push(Number(e));
  }
  return out;
}

// ---------------------------------------------------------------------------

/** A loopback port free at the time of asking (the caller retries if it is taken before it binds). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => {
        if (port) resolvePort(port);
        else reject(new Error('could not read a free port'));
      });
    });
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      sock.destroy();
      done(ok);
    };
    sock.once('connect', () => {
      finish(true);
    });
    sock.once('error', () => {
      finish(false);
    });
    sock.setTimeout(1000, () => {
      finish(false);
    });
  });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** sshd writes log lines from several processes asynchronously: wait until the size stops changing. */
async function settle(path: string): Promise<number> {
  const deadline = Date.now() + 500;
  let prev = await fileSize(path);
  for (;;) {
    await sleep(20);
    const cur = await fileSize(path);
    if (cur === prev || Date.now() >= deadline) return cur;
    prev = cur;
  }
}

async function logTail(path: string, chars = 3000): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.length > chars ? `…${text.slice(-chars)}` : text;
  } catch {
    return '(no sshd log)';
  }
}

function publicKeyOnly(pubFileText: string): string {
  // "ssh-ed25519 AAAA… comment" -> "ssh-ed25519 AAAA…"
  const [type, blob] = pubFileText.trim().split(/\s+/);
  if (!type || !blob) throw new Error(`unexpected public key file content: ${pubFileText.slice(0, 60)}`);
  return `${type} ${blob}`;
}

function splitExtraConfig(extra: string): { head: string; tail: string } {
  const lines = extra.split('\n');
  const i = lines.findIndex((l) => /^\s*Match\s/i.test(l));
  if (i < 0) return { head: extra.trim(), tail: '' };
  return { head: lines.slice(0, i).join('\n').trim(), tail: lines.slice(i).join('\n').trim() };
}

const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Starts a private OpenSSH sshd on 127.0.0.1 (free port, fresh ed25519 host and
 * client keys, VERBOSE log) for integration tests. Call `stop()` in `afterAll`;
 * an exit hook and a watchdog process are only a safety net.
 */
export async function startSshd(options: StartSshdOptions = {}): Promise<SshdKit> {
  try {
    await access(SSHD_PATH, fsConstants.X_OK);
  } catch {
    throw new Error(
      `${SSHD_PATH} not found: install openssh-server (apt-get install -y openssh-server; the project's scripts/bootstrap.mjs does it)`,
    );
  }
  const hostNames = options.hosts ?? ['node1'];
  for (const h of hostNames) {
    if (!HOST_NAME_RE.test(h)) throw new Error(`invalid host name for a target dir: ${JSON.stringify(h)}`);
  }
  const keepDir = options.keepDir ?? process.env['FETTLE_TESTKIT_KEEP'] === '1';

  const dir = resolve(await mkdtemp(join(tmpdir(), 'fettle-sshd-')));
  try {
    return await startIn(dir, hostNames, options, keepDir);
  } catch (err) {
    if (!keepDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(
  dir: string,
  hostNames: string[],
  options: StartSshdOptions,
  keepDir: boolean,
): Promise<SshdKit> {
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  const clientKeyPath = join(dir, 'client_ed25519');
  const authorizedKeysPath = join(dir, 'authorized_keys');
  const knownHostsPath = join(dir, 'known_hosts');
  const configPath = join(dir, 'sshd_config');
  const logPath = join(dir, 'sshd.log');
  const pidPath = join(dir, 'sshd.pid');

  await Promise.all(
    [hostKeyPath, clientKeyPath].map((f) =>
      runOk('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-C', 'fettle-testkit', '-f', f]),
    ),
  );
  const hostPublicKey = publicKeyOnly(await readFile(`${hostKeyPath}.pub`, 'utf8'));
  const clientPublicKey = publicKeyOnly(await readFile(`${clientKeyPath}.pub`, 'utf8'));
  const clientKey = await readFile(clientKeyPath, 'utf8');
  await writeFile(authorizedKeysPath, `${clientPublicKey}\n`, { mode: 0o600 });

  const hosts: Record<string, SshdHost> = {};
  for (const name of hostNames) {
    const root = join(dir, 'targets', name);
    await mkdir(root, { recursive: true });
    await chmod(root, 0o755); // explicit: mkdir's mode is filtered by the umask
    hosts[name] = { name, root };
  }

  // sshd's privilege separation dir; systemd usually creates it, bare containers don't.
  await mkdir('/run/sshd', { recursive: true }).catch(() => undefined);

  const extra = splitExtraConfig(options.extraConfig ?? '');
  let port = 0;
  let pid = 0;
  // A port picked with listen(0) can be taken before sshd binds it: retry a few times.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const config = [
      '# generated by @fettle/testkit',
      extra.head,
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `PidFile ${pidPath}`,
      // The kit file authorizes the kit key for the current user; test users use their own ~/.ssh.
      `AuthorizedKeysFile ${authorizedKeysPath} .ssh/authorized_keys`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no', // keys live under /tmp
      'Subsystem sftp internal-sftp',
      `MaxSessions ${options.maxSessions ?? 32}`,
      `MaxStartups ${options.maxStartups ?? '64:30:128'}`,
      'SetEnv SHLVL=1', // stops bash sourcing ~/.bashrc on every exec
      'LogLevel VERBOSE', // needed for the session lines counts() parses
      'PrintMotd no',
      extra.tail,
      '',
    ]
      .filter((l) => l !== '')
      .join('\n');
    await writeFile(configPath, `${config}\n`, { mode: 0o600 });
    await rm(pidPath, { force: true });

    // -E must be absolute: the daemon chdirs to / and every re-exec'd child reopens the path.
    const res = await run(SSHD_PATH, ['-f', configPath, '-E', logPath]);
    if (res.code === 0) break;
    const tail = await logTail(logPath);
    const bindFailed = /Bind to port|Cannot bind any address|Address already in use/.test(tail + res.stderr);
    if (bindFailed && attempt < 3) continue;
    throw new Error(
      `sshd failed to start (exit code ${String(res.code)}): ${res.stderr.trim()}\n--- ${logPath} ---\n${tail}`,
    );
  }

  // The foreground sshd exits right after forking the daemon, which then writes the pid file.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (existsSync(pidPath)) {
      const parsed = Number.parseInt(readFileSync(pidPath, 'utf8').trim(), 10);
      if (parsed > 0 && (await portAccepts(port))) {
        pid = parsed;
        break;
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `sshd did not become ready on 127.0.0.1:${port} within 10 s\n--- ${logPath} ---\n${await logTail(logPath)}`,
      );
    }
    await sleep(25);
  }

  await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`, { mode: 0o644 });

  installExitHook();
  const watchdogPid = spawnWatchdog(pid, dir, keepDir);
  live.set(pid, { dir, keepDir, watchdogPid });

  const user = userInfo().username;
  let stopping: Promise<void> | undefined;

  const readLog = async (since?: SshdMark): Promise<string> => {
    await settle(logPath);
    const buf = await readFile(logPath).catch(() => Buffer.alloc(0));
    return buf.subarray(since?.offset ?? 0).toString('utf8');
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Session processes first: once the listener is gone they are reparented and harder to find.
      for (const child of childPids(pid)) trySignal(child, 'SIGTERM');
      trySignal(pid, 'SIGTERM');
      let gone = await waitGone(pid, 5000);
      if (!gone) {
        trySignal(pid, 'SIGKILL');
        gone = await waitGone(pid, 2000);
      }
      if (watchdogPid !== undefined) trySignal(watchdogPid, 'SIGTERM');
      live.delete(pid);
      if (!keepDir) await rm(dir, { recursive: true, force: true });
      if (!gone) throw new Error(`sshd (pid ${pid}) did not exit after SIGTERM and SIGKILL`);
    })();
    return stopping;
  };

  const killSessions = (signal: NodeJS.Signals = 'SIGKILL'): number => {
    // Depth first, children before parents, so nothing is reparented out of reach.
    const tree = (root: number): number[] => childPids(root).flatMap((child) => [...tree(child), child]);
    const victims = tree(pid);
    for (const victim of victims) trySignal(victim, signal);
    return victims.length;
  };

  const kit: SshdKit = {
    killSessions,
    port,
    address: '127.0.0.1',
    dir,
    user,
    pid,
    clientKeyPath,
    clientKey,
    clientPublicKey,
    hostKeyPath,
    hostPublicKey,
    hostKeyFingerprint: sshFingerprint(hostPublicKey),
    knownHostsPath,
    configPath,
    logPath,
    hosts,
    get stopped() {
      return stopping !== undefined;
    },
    async counts() {
      return parseSshdLog(await readLog());
    },
    async mark() {
      return { offset: await settle(logPath) };
    },
    async countsSince(m: SshdMark) {
      return parseSshdLog(await readLog(m));
    },
    readLog,
    sshConfig(hostAlias = 'fettle-test') {
      return [
        `Host ${hostAlias}`,
        '  HostName 127.0.0.1',
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${clientKeyPath}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHostsPath}`,
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '',
      ].join('\n');
    },
    inventoryHost(name: string, extra: Readonly<Record<string, unknown>> = {}) {
      const root = hosts[name]?.root;
      if (root === undefined) throw new Error(`testkit: no test host named '${name}' (hosts: ${Object.keys(hosts).join(', ')})`);
      return {
        transport: 'ssh',
        address: '127.0.0.1',
        port,
        user,
        transportOptions: { identityFile: clientKeyPath, knownHosts: knownHostsPath, sshConfig: false, agent: false, root, ...extra },
      };
    },
    sshArgs() {
      return [
        '-i',
        clientKeyPath,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        `UserKnownHostsFile=${knownHostsPath}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-p',
        String(port),
      ];
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return kit;
}

/** Wait up to `ms` for a process to be gone; false when it still runs then. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

// Function properties rather than methods: they are meant to be passed unbound
// (`beforeAll(sshd.start)`), which lint rules such as unbound-method flag for methods.
export interface SshdForTests {
  /** The running kit; throws if `start()` has not run yet. */
  readonly get: () => SshdKit;
  /** Pass directly to `beforeAll`. */
  readonly start: () => Promise<void>;
  /** Pass directly to `afterAll`. */
  readonly stop: () => Promise<void>;
}

/**
 * Runner-agnostic lifecycle wrapper (no vitest import at runtime):
 * `const sshd = sshdForTests(); beforeAll(sshd.start); afterAll(sshd.stop);`
 */
export function sshdForTests(options?: StartSshdOptions): SshdForTests {
  let kit: SshdKit | undefined;
  return {
    get: () => {
      if (!kit) throw new Error('sshdForTests: the kit is not started; add beforeAll(sshd.start)');
      return kit;
    },
    // Arrow functions so they can be passed unbound; they ignore the runner's arguments.
    start: async () => {
      if (kit && !kit.stopped) return;
      kit = await startSshd(options);
    },
    stop: async () => {
      await kit?.stop();
    },
  };
}
