// What the scale case raises, and how it is put back: the open-file limit of the bench's own
// process tree (fettle, the floors and sshd inherit it; it ends with the process) and, only if
// it is lower, net.core.somaxconn (system-wide: restored at the end of the run).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export const NOFILE = 65536;
export const SOMAXCONN = 2048;
const SOMAXCONN_PATH = '/proc/sys/net/core/somaxconn';

const softNofile = () => spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();

/**
 * Node cannot setrlimit itself: when the soft open-file limit is under NOFILE, run this same
 * script again under `ulimit -n` (as far as the hard limit allows, or beyond it as root) and
 * exit with its status. Returns { before, after } in the re-executed process.
 */
export function withOpenFileLimit() {
  const before = process.env.FETTLE_BENCH_NOFILE_BEFORE;
  if (before) return { before, after: softNofile() };
  const now = softNofile();
  if (now === 'unlimited' || Number(now) >= NOFILE) return { before: now, after: now };
  const res = spawnSync(
    'sh',
    ['-c', `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bench', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, FETTLE_BENCH_NOFILE_BEFORE: now } },
  );
  process.exit(res.status ?? 1);
}

/** Raise net.core.somaxconn to SOMAXCONN if lower (root only); returns what it did and an undo. */
export function raiseSomaxconn() {
  let before;
  try { before = Number(readFileSync(SOMAXCONN_PATH, 'utf8')); } catch { return { somaxconn: null, restore: () => {} }; }
  if (before >= SOMAXCONN) return { somaxconn: { before, after: before }, restore: () => {} };
  try {
    writeFileSync(SOMAXCONN_PATH, String(SOMAXCONN));
  } catch {
    return { somaxconn: { before, after: before, note: 'could not raise it (not root?)' }, restore: () => {} };
  }
  return { somaxconn: { before, after: SOMAXCONN }, restore: () => writeFileSync(SOMAXCONN_PATH, String(before)) };
}
