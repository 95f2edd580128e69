// Timing one command (wall, peak RSS, CPU) and the machine's load, for run.mjs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
export const round = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** The 1-minute load average, from /proc/loadavg. */
export const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Run one command under GNU time: wall seconds (measured here, spawn to exit), peak RSS (%M:
 * the largest single process of the command's tree, KiB) and CPU seconds (user + sys of the
 * command and the children it waited for). A run longer than timeoutMs is stopped whole.
 */
const running = new Set();

/** Stop the commands being timed (their whole process groups): on an interrupt of the bench. */
export function stopTimed() {
  for (const pid of running) { try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ } }
}

export function timed(argv, { env = {}, cwd, timeoutMs = 20 * 60_000, statsFile }) {
  rmSync(statsFile, { force: true });
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %e %U %S', '-o', statsFile, ...argv], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a capped run is stopped whole
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    running.add(child.pid);
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child.pid);
      const wall = Number(process.hrtime.bigint() - start) / 1e9;
      const [kb, , user, sys] = existsSync(statsFile) ? readFileSync(statsFile, 'utf8').trim().split('\n').pop().split(' ').map(Number) : [];
      resolve({ code, wall, peakKb: kb ?? null, cpu: (user ?? 0) + (sys ?? 0), stdout, stderr });
    });
  });
}

export const statsPath = (work) => path.join(work, 'time.out');
