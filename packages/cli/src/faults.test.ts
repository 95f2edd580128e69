// Fault tests against real sshds (one per host): the real CLI, spawned, must end
// with a report of every host whatever dies, leave nothing half-written, refuse a
// locked host, and stop cleanly on Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { silentHost, startSshd, type SshdKit } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, sitesRoot } from './test-sites.js';

mkdirSync(sitesRoot, { recursive: true });

const HOSTS = Array.from({ length: 8 }, (_, i) => `h${i + 1}`);
const FILES = 200;
const kits = new Map<string, SshdKit>();
const made: string[] = [];
// Controller-side state (leftover temp files) of these tests only.
const stateDir = mkdtempSync(path.join(sitesRoot, 'state-'));
made.push(stateDir);

beforeAll(async () => {
  const started = await Promise.all(HOSTS.map((name) => startSshd({ hosts: [name] })));
  HOSTS.forEach((name, index) => kits.set(name, started[index] as SshdKit));
}, 60_000);
afterAll(async () => {
  await Promise.all([...kits.values()].map((kit) => kit.stop()));
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const kit = (name: string): SshdKit => kits.get(name) as SshdKit;
const rootOf = (name: string): string => kit(name).hosts[name]?.root ?? '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawn the real CLI; `during` sees the child while it runs (to kill a host, or send SIGINT). */
function fettle(args: string[], during?: (child: ReturnType<typeof spawn>) => void, env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1', FETTLE_STATE_DIR: stateDir, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  during?.(child);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

/** A site of the given hosts, each with `items` (a JS expression of (host) => items). */
function site(hosts: readonly string[], items: string, hostOptions: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'faults-'));
  made.push(dir);
  const inventory = Object.fromEntries(hosts.map((name) => [name, kit(name).inventoryHost(name, hostOptions)]));
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import action from '@fettle/items-action';
import ssh from '@fettle/transport-ssh';
const items = ${items};
export default defineSite({
  plugins: [files, action, ssh],
  hosts: new MemoryHostStore({ hosts: ${JSON.stringify(inventory)}, defaultRoles: ['r'] }),
  roles: { r: (host) => items(host) },
});
`,
  );
  return dir;
}

/** 200 files of 16 KiB under /data, content naming the host and file (so a torn file is visible). */
const TWO_HUNDRED = `(host) => Object.fromEntries([
  ['directory:/data', {}],
  ...Array.from({ length: ${FILES} }, (_, i) => ['file:/data/f' + i, { content: (host.name + ' file ' + i + '\\n').repeat(1024).slice(0, 16384) }]),
])`;
const expected = (host: string, i: number): string => `${host} file ${i}\n`.repeat(1024).slice(0, 16384);

const temps = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.includes('.fettle-tmp-')) : []);
const allTemps = (): string[] => HOSTS.flatMap((name) => temps(rootOf(name)).map((file) => `${name}:${file}`));

/** Every file on the host is either absent or whole: never half-written. */
function assertWholeFiles(host: string): number {
  const dir = path.join(rootOf(host), 'data');
  let whole = 0;
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.includes('.fettle-tmp-')) continue;
    const index = Number(name.slice(1));
    expect(readFileSync(path.join(dir, name), 'utf8'), `${host}:${name}`).toBe(expected(host, index));
    whole++;
  }
  return whole;
}

/**
 * Kill the victim's sessions while its files are in flight: as soon as the write's temp
 * folder appears beside the targets. (Not "as soon as anything is in the folder": one tar
 * command can place all 200 files between two looks, and then nothing is in flight.)
 */
function killWhenWriting(victim: string): { killed: () => number } {
  let killed = 0;
  const dir = path.join(rootOf(victim), 'data');
  const timer = setInterval(() => {
    if (killed > 0) return;
    if (existsSync(dir) && readdirSync(dir).some((name) => name.includes('.fettle-tmp-'))) {
      killed = kit(victim).killSessions();
      if (killed > 0) clearInterval(timer);
    }
  }, 1);
  setTimeout(() => clearInterval(timer), 60_000).unref();
  return { killed: () => killed };
}

interface JsonRun {
  summary: Record<string, number>;
  hosts: { host: string; status: string; reason?: string; error?: string; ms: number; items: { id: string; status: string; reason?: string; error?: string; startedAt?: number }[] }[];
}

describe('a host that dies mid-apply', () => {
  it('8 hosts, 200 files each, one sshd killed in flight: exit 2, every host reported, the 7 others converged, nothing half-written; a rerun converges and sweeps', async () => {
    const victim = 'h3';
    const dir = site(HOSTS, TWO_HUNDRED, { serverAliveInterval: 1, serverAliveCountMax: 2 });

    // Text report.
    const watch = killWhenWriting(victim);
    const text = await fettle(['apply', '--site', dir]);
    expect(watch.killed()).toBeGreaterThan(0);
    expect(text.code, text.stdout + text.stderr).toBe(2);
    // Within the keepalive bound (1 s × (2 + 1)) of the kill, plus the work of the others.
    expect(text.ms).toBeLessThan(30_000);
    for (const host of HOSTS) expect(text.stdout).toMatch(new RegExp(`^${host} `, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^${victim} +unreachable: connection lost .*s into the run`, 'm'));
    expect(text.stdout).toMatch(/summary: .* 1 unreachable \(8 hosts/);
    for (const host of HOSTS.filter((name) => name !== victim)) expect(assertWholeFiles(host)).toBe(FILES);
    assertWholeFiles(victim);

    // JSON report, the victim cold again.
    rmSync(path.join(rootOf(victim), 'data'), { recursive: true, force: true });
    const watchAgain = killWhenWriting(victim);
    const json = await fettle(['apply', '--site', dir, '--json']);
    expect(watchAgain.killed()).toBeGreaterThan(0);
    expect(json.code, json.stderr).toBe(2);
    const report = JSON.parse(json.stdout) as JsonRun;
    expect(report.hosts.map((host) => host.host).sort()).toEqual([...HOSTS].sort());
    const lost = report.hosts.find((host) => host.host === victim);
    expect(lost).toMatchObject({ status: 'unreachable', reason: 'lost' });
    expect(lost?.items.length).toBe(FILES + 1);
    for (const host of report.hosts.filter((entry) => entry.host !== victim)) expect(host.status).toBe('ok');
    assertWholeFiles(victim);

    // The lost run left temp files of the writes in flight (the connection was gone, nobody could remove them)…
    expect(temps(rootOf(victim)).length).toBeGreaterThan(0);
    // Rerun: the victim converges; the temp files the lost run left are swept in its first command.
    const rerun = await fettle(['apply', '--site', dir, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = JSON.parse(rerun.stdout) as JsonRun;
    expect(after.hosts.find((host) => host.host === victim)?.status).toMatch(/^(changed|ok)$/);
    expect(assertWholeFiles(victim)).toBe(FILES);
    expect(allTemps()).toEqual([]);
    // And no lock is left behind anywhere.
    for (const host of HOSTS) expect(existsSync(path.join(rootOf(host), 'var/lib/fettle/lock')), host).toBe(false);
  }, 120_000);
});

describe('a host that goes silent mid-apply', () => {
  it('keepalives declare it lost within interval × (count + 1): exit 2, the other host converged', async () => {
    const [silentOne, other] = ['h4', 'h5'] as const;
    for (const host of [silentOne, other]) rmSync(path.join(rootOf(host), 'data'), { recursive: true, force: true });
    const dir = site([silentOne, other], TWO_HUNDRED, { serverAliveInterval: 1, serverAliveCountMax: 2 });
    let frozenAt = 0;
    const data = path.join(rootOf(silentOne), 'data');
    const timer = setInterval(() => {
      if (frozenAt === 0 && existsSync(data) && readdirSync(data).length > 0 && kit(silentOne).killSessions('SIGSTOP') > 0) frozenAt = Date.now();
    }, 2);
    try {
      const run = await fettle(['apply', '--site', dir, '--json']);
      expect(frozenAt).toBeGreaterThan(0);
      expect(run.code, run.stderr).toBe(2);
      // Lost within 1 s × (2 + 1), with slack for a loaded machine; never the minutes of TCP timeouts.
      expect(Date.now() - frozenAt).toBeLessThan(10_000);
      const report = JSON.parse(run.stdout) as JsonRun;
      const byHost = Object.fromEntries(report.hosts.map((host) => [host.host, host]));
      expect(byHost[silentOne]).toMatchObject({ status: 'unreachable', reason: 'lost' });
      expect(byHost[other]?.status).toBe('changed');
      expect(assertWholeFiles(other)).toBe(FILES);
      assertWholeFiles(silentOne);
    } finally {
      clearInterval(timer);
      kit(silentOne).killSessions('SIGKILL');
    }
  }, 60_000);
});

describe('Ctrl-C', () => {
  it('SIGINT during an apply of 8 hosts: exit 130, no item starts after the signal, no temp file, locks released, partial summary', async () => {
    // Ten waves of five slow actions per host: a wave every ~0.3 s.
    const items = `(host) => Object.fromEntries(Array.from({ length: 50 }, (_, i) => ['action:a' + i, {
      command: 'sleep 0.3; echo ' + i + ' >> ' + host.vars.root + '/log',
      needs: i >= 5 ? ['action:a' + (i - 5)] : [],
    }]))`;
    for (const host of HOSTS) rmSync(path.join(rootOf(host), 'log'), { force: true });
    const dir = site(HOSTS, items);
    // The inventory carries each host's root as a var, for the log path.
    const config = path.join(dir, 'fettle.config.ts');
    const hostsWithRoot = Object.fromEntries(HOSTS.map((name) => [name, { ...kit(name).inventoryHost(name), vars: { root: rootOf(name) } }]));
    writeFileSync(config, readFileSync(config, 'utf8').replace(/hosts: \{.*\}, defaultRoles/s, `hosts: ${JSON.stringify(hostsWithRoot)}, defaultRoles`));

    let signalAt = 0;
    const run = await fettle(['apply', '--site', dir, '--json'], (child) => {
      // Once every host has run its first wave, interrupt.
      const timer = setInterval(() => {
        if (HOSTS.every((host) => existsSync(path.join(rootOf(host), 'log')))) {
          clearInterval(timer);
          signalAt = Date.now();
          child.kill('SIGINT');
        }
      }, 5);
    });
    expect(signalAt).toBeGreaterThan(0);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/interrupted: finishing what is in flight/);
    expect(run.stderr).toMatch(/interrupted: \d+ item\(s\) done, \d+ not started/);
    const report = JSON.parse(run.stdout) as JsonRun;
    expect(report.hosts).toHaveLength(8);
    const all = report.hosts.flatMap((host) => host.items);
    const starts = all.filter((item) => item.startedAt !== undefined).map((item) => item.startedAt as number);
    expect(starts.length).toBeGreaterThan(0);
    // No item started after the signal was sent.
    expect(Math.max(...starts)).toBeLessThan(signalAt);
    const notStarted = all.filter((item) => item.status === 'skipped' && item.reason === 'interrupted');
    expect(notStarted.length).toBeGreaterThan(0);
    expect(report.summary['skipped']).toBeGreaterThanOrEqual(notStarted.length);
    for (const host of HOSTS) {
      expect(existsSync(path.join(rootOf(host), 'var/lib/fettle/lock')), `${host} lock`).toBe(false);
      const lines = readFileSync(path.join(rootOf(host), 'log'), 'utf8').trim().split('\n');
      expect(lines.length).toBeLessThan(50);
    }
    expect(allTemps()).toEqual([]);
  }, 120_000);
});

describe('two applies at once', () => {
  it('on the same 4 hosts: each host is applied by exactly one; the other names the holder; no host mixes both sites', async () => {
    const four = HOSTS.slice(0, 4);
    for (const host of four) rmSync(path.join(rootOf(host), 'data'), { recursive: true, force: true });
    const siteOf = (tag: string): string =>
      site(four, `(host) => Object.fromEntries([
        ['directory:/data', {}],
        ...Array.from({ length: 100 }, (_, i) => ['file:/data/f' + i, { content: '${tag} ' + host.name + ' ' + i + '\\n' }]),
        ['action:slow', { command: 'sleep 3', needs: ['file:/data/f99'] }],
      ])`);
    const a = siteOf('A');
    const b = siteOf('B');
    const first = fettle(['apply', '--site', a, '--json'], undefined, { FETTLE_USER: 'alice@ctl-a' });
    // The second starts once the first holds some host (or after 0.8 s, as a user would).
    const holding = (): boolean => four.some((host) => existsSync(path.join(rootOf(host), 'var/lib/fettle/lock')));
    for (let waited = 0; waited < 800 && !holding(); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const second = fettle(['apply', '--site', b, '--json'], undefined, { FETTLE_USER: 'bob@ctl-b' });
    const [ra, rb] = await Promise.all([first, second]);
    const ja = JSON.parse(ra.stdout) as JsonRun;
    const jb = JSON.parse(rb.stdout) as JsonRun;
    for (const host of four) {
      const inA = ja.hosts.find((entry) => entry.host === host);
      const inB = jb.hosts.find((entry) => entry.host === host);
      const applied = [inA, inB].filter((entry) => entry?.status === 'changed');
      const refused = [inA, inB].filter((entry) => entry?.reason === 'locked');
      expect(applied, host).toHaveLength(1);
      expect(refused, host).toHaveLength(1);
      const holder = applied[0] === inA ? 'alice@ctl-a' : 'bob@ctl-b';
      expect(refused[0]?.error).toMatch(new RegExp(`^locked by ${holder} since \\d{4}-.*, pid \\d+`));
      const tag = applied[0] === inA ? 'A' : 'B';
      const contents = readdirSync(path.join(rootOf(host), 'data')).map((name) => readFileSync(path.join(rootOf(host), 'data', name), 'utf8'));
      expect(contents).toHaveLength(100);
      expect(contents.every((content) => content.startsWith(`${tag} `)), host).toBe(true);
    }
    // Refused hosts make the run fail (exit 1), not hang.
    expect([ra.code, rb.code].sort()).toEqual([0, 1].sort());
  }, 120_000);

  it("skips items under another user's soft lock and reports them; fettle lock show/remove", async () => {
    const host = 'h5';
    const dir = site([host], `(host) => ({ 'file:/soft/a.conf': { content: 'a\\n', tags: ['web'] }, 'file:/soft/b.conf': { content: 'b\\n' }, 'directory:/soft': {} })`);
    const add = await fettle(['lock', 'add', host, '--site', dir, '--items', 'tag:web', '--comment', 'debugging nginx', '--expires-in', '1h'], undefined, { FETTLE_USER: 'carol@laptop' });
    expect(add.code, add.stderr).toBe(0);
    const id = /lock ([0-9a-f]+)\)/.exec(add.stdout)?.[1] ?? '';
    expect(id).not.toBe('');
    const show = await fettle(['lock', 'show', host, '--site', dir]);
    expect(show.stdout).toMatch(new RegExp(`${host}: lock ${id} on tag:web: carol@laptop since .*\\("debugging nginx"\\)`));

    const run = await fettle(['apply', host, '--site', dir, '--json'], undefined, { FETTLE_USER: 'dave@desk' });
    const report = JSON.parse(run.stdout) as JsonRun;
    const items = Object.fromEntries((report.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(items['file:/soft/a.conf']).toMatchObject({ status: 'skipped' });
    expect(items['file:/soft/a.conf']?.reason).toMatch(/^soft-locked by carol@laptop .*\("debugging nginx"\)/);
    expect(items['file:/soft/b.conf']).toMatchObject({ status: 'changed' });
    expect(existsSync(path.join(rootOf(host), 'soft/a.conf'))).toBe(false);

    const remove = await fettle(['lock', 'remove', host, id, '--site', dir]);
    expect(remove.stdout).toContain(`${host}: removed lock ${id}`);
    const again = JSON.parse((await fettle(['apply', host, '--site', dir, '--json'], undefined, { FETTLE_USER: 'dave@desk' })).stdout) as JsonRun;
    expect(again.hosts[0]?.items.find((item) => item.id === 'file:/soft/a.conf')?.status).toBe('changed');
  }, 60_000);
});

describe('OS failures', () => {
  it('a 5 MiB file on a full 1 MiB tmpfs fails with no space left on device, old content intact, no temp file; a read-only target fails with its reason; the other hosts are fine', async () => {
    const [full, readOnly, fine] = ['h6', 'h7', 'h8'] as const;
    const small = path.join(rootOf(full), 'small');
    const ro = path.join(rootOf(readOnly), 'ro');
    mkdirSync(small, { recursive: true });
    mkdirSync(ro, { recursive: true });
    const mount = (args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        const child = spawn('mount', args);
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => resolve({ code, stdout: '', stderr, ms: 0 }));
      });
    expect((await mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small])).code).toBe(0);
    writeFileSync(path.join(small, 'big.bin'), 'old content\n');
    expect((await mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', ro])).code).toBe(0);
    writeFileSync(path.join(ro, 'conf'), 'old ro\n');
    expect((await mount(['-o', 'remount,ro', ro])).code).toBe(0);
    try {
      const dir = site(
        [full, readOnly, fine],
        `(host) => host.name === '${full}' ? { 'file:/small/big.bin': { content: 'x'.repeat(5 * 1024 * 1024) } }
          : host.name === '${readOnly}' ? { 'file:/ro/conf': { content: 'new\\n' } }
          : { 'file:/fine.txt': { content: 'fine\\n' } }`,
      );
      const run = await fettle(['apply', '--site', dir, '--json']);
      expect(run.code, run.stderr).toBe(1);
      const report = JSON.parse(run.stdout) as JsonRun;
      const byHost = Object.fromEntries(report.hosts.map((host) => [host.host, host]));
      expect(byHost[full]?.items[0]?.error).toMatch(/cannot write .*big\.bin: no space left on device/);
      expect(byHost[readOnly]?.items[0]?.error).toMatch(/cannot write .*conf: read-only file system/);
      expect(byHost[fine]?.status).toBe('changed');
      expect(readFileSync(path.join(small, 'big.bin'), 'utf8')).toBe('old content\n');
      expect(readFileSync(path.join(ro, 'conf'), 'utf8')).toBe('old ro\n');
      expect(temps(small)).toEqual([]);
      expect(readFileSync(path.join(rootOf(fine), 'fine.txt'), 'utf8')).toBe('fine\n');
    } finally {
      for (const target of [small, ro]) await new Promise((resolve) => spawn('umount', [target]).on('close', resolve));
    }
  }, 60_000);

  it('a private key readable by others is refused with OpenSSH reason and the chmod 600 hint: exit 2', async () => {
    const host = 'h8';
    const loose = path.join(mkdtempSync(path.join(sitesRoot, 'key-')), 'id_loose');
    made.push(path.dirname(loose));
    writeFileSync(loose, readFileSync(kit(host).clientKeyPath), { mode: 0o644 });
    const dir = site([host], `() => ({ 'file:/key.txt': { content: 'k\\n' } })`, { identityFile: loose });
    const run = await fettle(['apply', '--site', dir]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    const text = run.stdout + run.stderr;
    expect(text).toMatch(/permissions 0644 are too open; it is required that your private key files are NOT accessible by others/);
    expect(text).toContain(`chmod 600 ${loose}`);
    expect(existsSync(path.join(rootOf(host), 'key.txt'))).toBe(false);
  }, 30_000);
});

describe('a host that never answers', () => {
  it('accepts TCP and never speaks: unreachable after the connect timeout, the others done long before', async () => {
    const silent = await silentHost();
    try {
      const dir = site(['h1', 'h2'], `(host) => ({ ['file:/answer-' + host.name]: { content: 'yes\\n' } })`);
      const config = path.join(dir, 'fettle.config.ts');
      const mute = { ...kit('h2').inventoryHost('h2', { connectTimeoutMs: 3000 }), port: silent.port };
      writeFileSync(config, readFileSync(config, 'utf8').replace(/hosts: \{(.*)\}, defaultRoles/s, (_all, body: string) => `hosts: {${body}, mute: ${JSON.stringify(mute)} }, defaultRoles`));
      const run = await fettle(['apply', '--site', dir, '--json']);
      expect(run.code, run.stderr).toBe(2);
      const report = JSON.parse(run.stdout) as JsonRun;
      const byHost = Object.fromEntries(report.hosts.map((host) => [host.host, host]));
      expect(byHost['mute']).toMatchObject({ status: 'unreachable', reason: 'timeout' });
      expect(byHost['mute']?.error).toMatch(/no SSH connection within 3000 ms/);
      for (const name of ['h1', 'h2']) {
        expect(byHost[name]?.status).toMatch(/^(changed|ok)$/);
        expect(byHost[name]?.ms).toBeLessThan(1500);
      }
    } finally {
      await silent.close();
    }
  }, 30_000);
});
