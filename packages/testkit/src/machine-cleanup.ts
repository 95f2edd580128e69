import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every booted host lives in `<tmpdir>/fettle-machine-<owner pid>-<random>/`: the
 * overlay's upper and work dirs, the merged root the container boots from, keys and
 * logs. The owner pid in the name lets a check tell whose leftovers it sees.
 */
export const MACHINE_DIR_PREFIX = 'fettle-machine-';

export function machineDirPrefix(owner: number = process.pid): string {
  return join(tmpdir(), `${MACHINE_DIR_PREFIX}${owner}-`);
}

/** What must be undone if the test process dies without calling stop(). */
export interface LiveMachine {
  dir: string;
  root: string;
  nspawnPid: number;
  initPid: number | undefined;
  watchdogPid: number | undefined;
}

const live = new Set<LiveMachine>();
let exitHookInstalled = false;

function trySignal(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Synchronous on purpose: it also runs from the process 'exit' hook. The recorded
 * init pid may be unknown (boot failed early), so the container's processes are
 * found by the tree they run in: killing a systemd-nspawn alone would orphan them.
 * The watchdog is left running: if we are exiting, it makes a second pass.
 */
export function destroyMachineNow(m: LiveMachine): void {
  // SIGKILL to a PID namespace's init kills everything inside it.
  for (const pid of machineProcesses(m.dir)) trySignal(pid, 'SIGKILL');
  trySignal(m.initPid, 'SIGKILL');
  trySignal(m.nspawnPid, 'SIGKILL');
  try {
    execFileSync('umount', ['-l', m.root], { stdio: 'ignore' });
  } catch {
    // not mounted any more
  }
  try {
    rmSync(m.dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // the watchdog or the final check will see it
  }
  live.delete(m);
}

/** Pids of every process running inside the booted host whose dir is `dir`. */
export function machineProcesses(dir: string): number[] {
  const upper = join(dir, 'upper');
  const ownMountNs = readlinkSync('/proc/self/ns/mnt');
  const treeOfNs = new Map<string, string | undefined>();
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => containerTree(pid, ownMountNs, treeOfNs) === upper);
}

export function trackMachine(m: LiveMachine): void {
  live.add(m);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const machine of [...live]) destroyMachineNow(machine);
  });
}

export function untrackMachine(m: LiveMachine): void {
  live.delete(m);
}

/**
 * The 'exit' hook does not run when the test process is SIGKILLed (a hung worker
 * killed by the runner), so a detached shell polls our pid and, if we vanish
 * first, halts the container, kills what is left, unmounts and removes the dir.
 */
export function spawnMachineWatchdog(m: LiveMachine): number | undefined {
  const script = [
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done',
    'kill -0 "$1" 2>/dev/null && exit 0', // the owner stopped the machine itself
    'kill -TERM "$2" 2>/dev/null',
    'i=0; while kill -0 "$2" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done',
    'kill -KILL "$3" "$2" 2>/dev/null; sleep 0.5',
    'umount -l "$4" 2>/dev/null; rm -rf "$5"',
  ].join('\n');
  try {
    const child = spawn(
      '/bin/sh',
      ['-c', script, 'fettle-machine-watchdog', String(process.pid), String(m.nspawnPid), String(m.initPid ?? m.nspawnPid), m.root, m.dir],
      { detached: true, stdio: 'ignore' },
    );
    child.on('error', () => undefined);
    child.unref();
    return child.pid;
  } catch {
    return undefined;
  }
}

/**
 * A container's processes see its overlay as "/" in their own mount namespace; the
 * overlay's options name the kit dir (`upperdir=/tmp/fettle-machine-…/upper`).
 * Returns that dir for a process inside a kit host, undefined for anything else.
 */
function containerTree(pid: number, ownMountNs: string, cache: Map<string, string | undefined>): string | undefined {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
  if (ns === ownMountNs) return undefined;
  if (cache.has(ns)) return cache.get(ns);
  let tree: string | undefined;
  try {
    const rootLine = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .find((line) => line.split(' ')[4] === '/');
    tree = rootLine ? /upperdir=([^,\s]+)/.exec(rootLine)?.[1] : undefined;
  } catch {
    tree = undefined;
  }
  cache.set(ns, tree);
  return tree;
}

function ownerAlive(pid: number): boolean {
  return trySignal(pid, 0);
}

function ownerOf(path: string): number | undefined {
  const m = new RegExp(`/${MACHINE_DIR_PREFIX}(\\d+)-`).exec(path);
  return m ? Number(m[1]) : undefined;
}

/** `undefined`: everything of the kit; a pid: that process's machines; `'dead'`: machines whose owner has exited. */
export type LeftoverOwner = number | 'dead' | undefined;

function wanted(path: string, owner: LeftoverOwner): boolean {
  const pid = ownerOf(path);
  if (pid === undefined) return false;
  if (owner === undefined) return true;
  if (owner === 'dead') return !ownerAlive(pid);
  return pid === owner;
}

/**
 * What the kit's booted hosts left behind: overlay mounts, running processes whose
 * root is a machine's tree (systemd, sshd and every service inside), systemd-nspawn
 * processes, and machine dirs. Empty when everything was powered off and cleaned.
 */
export function machineLeftovers(owner?: LeftoverOwner): string[] {
  const found: string[] = [];
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint && wanted(mountPoint, owner)) found.push(`mount ${mountPoint}`);
  }
  const ownMountNs = readlinkSync('/proc/self/ns/mnt');
  const treeOfNs = new Map<string, string | undefined>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const tree = containerTree(pid, ownMountNs, treeOfNs);
      if (tree !== undefined && wanted(tree, owner)) found.push(`process ${pid} ${comm} (inside ${tree})`);
      else if (comm === 'systemd-nspawn' && wanted(cmdline, owner)) found.push(`process ${pid} ${cmdline.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  for (const entry of readdirSync(tmpdir())) {
    const path = join(tmpdir(), entry);
    if (entry.startsWith(MACHINE_DIR_PREFIX) && wanted(`${path}/`, owner)) found.push(`dir ${path}`);
  }
  return found;
}
