import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { run, runOk, sleep } from './exec.js';

/** What a booted test host's Debian tree holds; the cache key is derived from all of it. */
export interface MachineTreeOptions {
  /** Debian suite; default `bookworm` (the suite this machine runs, so its dpkg/apt behave alike). */
  suite?: string;
  /** Mirror for debootstrap; default: the first Debian mirror in this machine's apt sources. */
  mirror?: string;
  /** Packages installed in the tree (`debootstrap --include`); the kit always adds systemd, dbus and openssh-server. */
  packages?: readonly string[];
  /**
   * Packages downloaded into the tree's apt cache but not installed, so tests can
   * `apt-get install` them inside a booted host without reaching a mirror.
   */
  downloads?: readonly string[];
  /** Cache folder kept between runs; default env `FETTLE_TESTKIT_CACHE` or `/var/cache/fettle-testkit`. */
  cacheDir?: string;
}

/** The packages every booted host needs: systemd as PID 1 (with dbus for systemctl) and sshd for the kit. */
export const MACHINE_BASE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server'] as const;
/** Downloaded by default: a tiny package for install/remove tests and a small web server. */
export const MACHINE_DEFAULT_DOWNLOADS = ['hello', 'lighttpd'] as const;

// Bump when the way a tree is prepared changes, so old caches are not reused.
const TREE_FORMAT = 1;
const MARKER = '.fettle-testkit-tree.json';
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

export function machineCacheDir(options: MachineTreeOptions = {}): string {
  return options.cacheDir ?? process.env['FETTLE_TESTKIT_CACHE'] ?? '/var/cache/fettle-testkit';
}

/**
 * The Debian mirror this machine's apt uses (deb822 `URIs:` or one-line `deb URI suite`),
 * so debootstrap goes where apt already goes. Only plain Debian archives count.
 */
export function hostDebianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d')) files.push(join('/etc/apt/sources.list.d', f));
  } catch {
    // no sources.list.d
  }
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const uris = [...text.matchAll(/^\s*(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)].map((m) => m[1] ?? '');
    const debian = uris.find((u) => /^https?:\/\/.*\/debian\/?$/.test(u));
    if (debian) return debian.replace(/\/$/, '');
  }
  return FALLBACK_MIRROR;
}

interface TreeSpec {
  format: number;
  suite: string;
  mirror: string;
  packages: string[];
  downloads: string[];
}

function treeSpec(options: MachineTreeOptions): TreeSpec {
  const sorted = (list: readonly string[]) => [...new Set(list)].sort();
  return {
    format: TREE_FORMAT,
    suite: options.suite ?? 'bookworm',
    mirror: options.mirror ?? process.env['FETTLE_TESTKIT_MIRROR'] ?? hostDebianMirror(),
    packages: sorted([...MACHINE_BASE_PACKAGES, ...(options.packages ?? [])]),
    downloads: sorted(options.downloads ?? MACHINE_DEFAULT_DOWNLOADS),
  };
}

/** Where the tree for these options lives (whether built yet or not). */
export function machineTreePath(options: MachineTreeOptions = {}): string {
  const spec = treeSpec(options);
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  return join(machineCacheDir(options), 'trees', `${spec.suite}-${key}`);
}

export function machineTreeReady(options: MachineTreeOptions = {}): boolean {
  return existsSync(join(machineTreePath(options), MARKER));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An exclusive lock file holding our pid; a lock whose holder died is taken over. */
async function withLock<T>(lockPath: string, body: () => Promise<T>, waitMs = 30 * 60_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      if (!(holder > 0) || !pidAlive(holder)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() >= deadline) throw new Error(`testkit: ${lockPath} still held by pid ${holder}`, { cause: err });
      await sleep(500);
    }
  }
  try {
    return await body();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/**
 * Builds the Debian tree once and caches it by its package list (a second run
 * reuses it at no cost). Concurrent callers wait for one build. Returns its path.
 */
export async function prepareMachineTree(options: MachineTreeOptions = {}, log: (line: string) => void = () => undefined): Promise<string> {
  const tree = machineTreePath(options);
  if (existsSync(join(tree, MARKER))) return tree;
  await mkdir(join(machineCacheDir(options), 'trees'), { recursive: true });
  return withLock(`${tree}.lock`, async () => {
    if (existsSync(join(tree, MARKER))) return tree; // built while we waited
    const spec = treeSpec(options);
    const building = `${tree}.building`;
    await rm(building, { recursive: true, force: true });
    await rm(tree, { recursive: true, force: true }); // a tree without its marker is half-built
    const started = Date.now();
    log(`testkit: building the Debian ${spec.suite} tree for booted hosts in ${tree} (once per package list)`);
    try {
      await buildTree(building, spec);
      await writeFile(join(building, MARKER), `${JSON.stringify({ ...spec, builtAt: new Date().toISOString(), buildMs: Date.now() - started })}\n`);
      await rename(building, tree);
    } catch (err) {
      await rm(building, { recursive: true, force: true });
      throw err;
    }
    log(`testkit: tree built in ${Math.round((Date.now() - started) / 1000)} s`);
    return tree;
  });
}

async function buildTree(dir: string, spec: TreeSpec): Promise<void> {
  const args = ['--variant=minbase', `--include=${spec.packages.join(',')}`, spec.suite, dir, spec.mirror];
  const boot = await run('debootstrap', args, 30 * 60_000);
  if (boot.code !== 0) {
    const logTail = await readFile(join(dir, 'debootstrap/debootstrap.log'), 'utf8').catch(() => '');
    throw new Error(`testkit: debootstrap ${args.join(' ')} failed: ${(boot.stderr || boot.stdout).trim().slice(-2000)}\n${logTail.slice(-2000)}`);
  }
  // Packages installed inside a booted host do not start their services (Debian's
  // container convention): a package's default port would collide on the shared network.
  await writeFile(join(dir, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  // No first-boot wizard, no host keys shared through the tree: each host gets the kit's.
  await writeFile(join(dir, 'etc/machine-id'), '');
  for (const f of readdirSync(join(dir, 'etc/ssh'))) if (f.startsWith('ssh_host_')) await rm(join(dir, 'etc/ssh', f));
  if (spec.downloads.length > 0) {
    // apt inside a chroot needs the host's resolver; the booted host gets its own copy from nspawn.
    await writeFile(join(dir, 'etc/resolv.conf'), await readFile('/etc/resolv.conf'));
    await runOk('chroot', [dir, 'apt-get', 'install', '-y', '-q', '--download-only', ...spec.downloads], 10 * 60_000);
  }
  await rm(join(dir, 'var/log/bootstrap.log'), { force: true });
}
