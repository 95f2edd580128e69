import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';

import { sleep } from './exec.js';

// ---------------------------------------------------------------------------
// Emergency cleanup: tests that crash or forget stop() must not leave sshd behind.

interface LiveKit {
  dir: string;
  keepDir: boolean;
  watchdogPid: number | undefined;
}
export const live = new Map<number, LiveKit>();
let exitHookInstalled = false;

export function installExitHook(): void {
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
export function spawnWatchdog(sshdPid: number, dir: string, keepDir: boolean): number | undefined {
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

export function trySignal(pid: number, signal: NodeJS.Signals | 0): boolean {
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

/** Whether a process still runs: it exists and is not a zombie (a container's pid 1 may never reap the daemon). */
export function isAlive(pid: number): boolean {
  const fields = procStat(pid);
  if (fields) return fields[0] !== 'Z';
  return trySignal(pid, 0);
}

/** sshd per-connection processes are direct children of the listener (they setsid, so not in its group). */
export function childPids(parent: number): number[] {
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

/** Wait up to `ms` for a process to be gone; false when it still runs then. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}
