import { createHash } from 'node:crypto';
import { constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

import { run, runOk, sleep } from './exec.js';
import { parseSshdLog, type SshdCounts, type SshdMark } from './log.js';
import { freePort, portAccepts } from './net.js';
import { childPids, installExitHook, live, spawnWatchdog, trySignal, waitGone } from './processes.js';

export { freePort } from './net.js';
export { isAlive, waitGone } from './processes.js';

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

/** Where the kit keeps its files, all inside its private folder. */
interface KitFiles {
  readonly hostKeyPath: string;
  readonly clientKeyPath: string;
  readonly authorizedKeysPath: string;
  readonly knownHostsPath: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly pidPath: string;
}

const kitFiles = (dir: string): KitFiles => ({
  hostKeyPath: join(dir, 'ssh_host_ed25519_key'),
  clientKeyPath: join(dir, 'client_ed25519'),
  authorizedKeysPath: join(dir, 'authorized_keys'),
  knownHostsPath: join(dir, 'known_hosts'),
  configPath: join(dir, 'sshd_config'),
  logPath: join(dir, 'sshd.log'),
  pidPath: join(dir, 'sshd.pid'),
});

interface KitKeys {
  readonly hostPublicKey: string;
  readonly clientPublicKey: string;
  readonly clientKey: string;
}

/** Fresh host and client keys; the client key is authorized for the current user. */
async function makeKeys(files: KitFiles): Promise<KitKeys> {
  await Promise.all(
    [files.hostKeyPath, files.clientKeyPath].map((f) =>
      runOk('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-C', 'fettle-testkit', '-f', f]),
    ),
  );
  const hostPublicKey = publicKeyOnly(await readFile(`${files.hostKeyPath}.pub`, 'utf8'));
  const clientPublicKey = publicKeyOnly(await readFile(`${files.clientKeyPath}.pub`, 'utf8'));
  const clientKey = await readFile(files.clientKeyPath, 'utf8');
  await writeFile(files.authorizedKeysPath, `${clientPublicKey}\n`, { mode: 0o600 });
  return { hostPublicKey, clientPublicKey, clientKey };
}

async function makeTargets(dir: string, hostNames: readonly string[]): Promise<Record<string, SshdHost>> {
  const hosts: Record<string, SshdHost> = {};
  for (const name of hostNames) {
    const root = join(dir, 'targets', name);
    await mkdir(root, { recursive: true });
    await chmod(root, 0o755); // explicit: mkdir's mode is filtered by the umask
    hosts[name] = { name, root };
  }
  return hosts;
}

function sshdConfig(port: number, files: KitFiles, options: StartSshdOptions): string {
  const extra = splitExtraConfig(options.extraConfig ?? '');
  return [
    '# generated by @fettle/testkit',
    extra.head,
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${files.hostKeyPath}`,
    `PidFile ${files.pidPath}`,
    // The kit file authorizes the kit key for the current user; test users use their own ~/.ssh.
    `AuthorizedKeysFile ${files.authorizedKeysPath} .ssh/authorized_keys`,
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
}

/** Starts the daemon on a free port and waits until it accepts connections. */
async function launch(files: KitFiles, options: StartSshdOptions): Promise<{ port: number; pid: number }> {
  // sshd's privilege separation dir; systemd usually creates it, bare containers don't.
  await mkdir('/run/sshd', { recursive: true }).catch(() => undefined);
  let port: number;
  // A port picked with listen(0) can be taken before sshd binds it: retry a few times.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    await writeFile(files.configPath, `${sshdConfig(port, files, options)}\n`, { mode: 0o600 });
    await rm(files.pidPath, { force: true });
    // -E must be absolute: the daemon chdirs to / and every re-exec'd child reopens the path.
    const res = await run(SSHD_PATH, ['-f', files.configPath, '-E', files.logPath]);
    if (res.code === 0) break;
    const tail = await logTail(files.logPath);
    const bindFailed = /Bind to port|Cannot bind any address|Address already in use/.test(tail + res.stderr);
    if (bindFailed && attempt < 3) continue;
    throw new Error(
      `sshd failed to start (exit code ${String(res.code)}): ${res.stderr.trim()}\n--- ${files.logPath} ---\n${tail}`,
    );
  }
  // The foreground sshd exits right after forking the daemon, which then writes the pid file.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (existsSync(files.pidPath)) {
      const pid = Number.parseInt(readFileSync(files.pidPath, 'utf8').trim(), 10);
      if (pid > 0 && (await portAccepts(port))) return { port, pid };
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `sshd did not become ready on 127.0.0.1:${port} within 10 s\n--- ${files.logPath} ---\n${await logTail(files.logPath)}`,
      );
    }
    await sleep(25);
  }
}

async function startIn(dir: string, hostNames: string[], options: StartSshdOptions, keepDir: boolean): Promise<SshdKit> {
  const files = kitFiles(dir);
  const keys = await makeKeys(files);
  const hosts = await makeTargets(dir, hostNames);
  const { port, pid } = await launch(files, options);
  await writeFile(files.knownHostsPath, `[127.0.0.1]:${port} ${keys.hostPublicKey}\n`, { mode: 0o644 });

  installExitHook();
  const watchdogPid = spawnWatchdog(pid, dir, keepDir);
  live.set(pid, { dir, keepDir, watchdogPid });
  const lifecycle = daemonLifecycle(pid, dir, keepDir, watchdogPid);
  const readLog = async (since?: SshdMark): Promise<string> => {
    await settle(files.logPath);
    const buf = await readFile(files.logPath).catch(() => Buffer.alloc(0));
    return buf.subarray(since?.offset ?? 0).toString('utf8');
  };
  const client = clientSettings(port, userInfo().username, files, hosts);
  return {
    ...client,
    ...keys,
    killSessions: lifecycle.killSessions,
    port,
    address: '127.0.0.1',
    dir,
    pid,
    clientKeyPath: files.clientKeyPath,
    hostKeyPath: files.hostKeyPath,
    hostKeyFingerprint: sshFingerprint(keys.hostPublicKey),
    knownHostsPath: files.knownHostsPath,
    configPath: files.configPath,
    logPath: files.logPath,
    hosts,
    get stopped() {
      return lifecycle.stopped();
    },
    counts: async () => parseSshdLog(await readLog()),
    mark: async () => ({ offset: await settle(files.logPath) }),
    countsSince: async (m: SshdMark) => parseSshdLog(await readLog(m)),
    readLog,
    stop: lifecycle.stop,
    [Symbol.asyncDispose]: lifecycle.stop,
  };
}

/** Stopping the daemon (idempotent) and killing its sessions, as a host dying would. */
function daemonLifecycle(pid: number, dir: string, keepDir: boolean, watchdogPid: number | undefined) {
  let stopping: Promise<void> | undefined;
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
  return { stop, killSessions, stopped: () => stopping !== undefined };
}

/** How clients reach the kit: an ssh_config block, `ssh` arguments, a fettle inventory entry. */
function clientSettings(port: number, user: string, files: KitFiles, hosts: Readonly<Record<string, SshdHost>>) {
  const { clientKeyPath, knownHostsPath } = files;
  return {
    user,
    sshConfig: (hostAlias = 'fettle-test'): string =>
      [
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
      ].join('\n'),
    inventoryHost: (name: string, extra: Readonly<Record<string, unknown>> = {}): SshInventoryHost => {
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
    sshArgs: (): string[] => [
      '-i', clientKeyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${knownHostsPath}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-p', String(port),
    ],
  };
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
