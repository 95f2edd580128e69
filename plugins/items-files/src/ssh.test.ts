import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync, createReadStream, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryHostStore, Registry, defineItemType, definePlugin, runSite, secret, z, type EngineEvent, type ItemMap, type RunMode, type SecretStore, type SiteConfig } from '@fettle/core';
import { silentHost, sshdForTests, type SshdKit } from '@fettle/testkit';
import openssh from '@fettle/transport-openssh';
import ssh from '@fettle/transport-ssh';
import files from './index.js';

const HOSTS = ['web1', 'web2', 'web3'];

const SECRET = 'correct-horse-battery-staple-42';
const secrets: SecretStore = {
  describe: 'test secrets',
  list: () => Promise.resolve(['api']),
  get: () => Promise.resolve(SECRET),
  set: () => Promise.reject(new Error('read-only')),
};

/**
 * The same tests for both SSH transports: ssh2 (files over SFTP) and the system ssh
 * (ControlMaster; files as commands). The engine must not tell them apart, and both
 * keep the round-trip budget.
 */
const TRANSPORTS = [
  { transport: 'ssh', plugin: ssh },
  { transport: 'openssh', plugin: openssh },
] as const;
let transport: (typeof TRANSPORTS)[number] = TRANSPORTS[0];

function sshHost(kit: SshdKit, name: string, extra: Record<string, unknown> = {}) {
  return {
    transport: transport.transport,
    address: kit.address,
    port: kit.port,
    user: kit.user,
    transportOptions: { identityFile: kit.clientKeyPath, knownHosts: kit.knownHostsPath, sshConfig: false, agent: false, root: kit.hosts[name]?.root ?? '/', ...extra },
  };
}

function site(hosts: Record<string, ReturnType<typeof sshHost>>, items: (host: string) => ItemMap): SiteConfig {
  return {
    plugins: [files, transport.plugin],
    hosts: new MemoryHostStore({ hosts, defaultRoles: ['r'] }),
    roles: { r: (host) => items(host.name) },
    secrets,
  };
}

async function run(config: SiteConfig, mode: RunMode, events: EngineEvent[] = []) {
  return runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode, emit: (event) => events.push(event) });
}

function hundredFiles(host: string): ItemMap {
  const items: Record<string, Record<string, unknown>> = { 'directory:/d': { mode: '0755' } };
  for (let i = 1; i <= 100; i++) {
    items[`file:/d/file${String(i).padStart(3, '0')}.txt`] = { content: `file ${i} of 100\nhost: ${host}\n`, mode: '0644', owner: 'root', group: 'root' };
  }
  items['symlink:/d/first.txt'] = { target: '/d/file001.txt' };
  return items;
}

describe.each(TRANSPORTS)('file items over SSH through the engine ($transport transport)', (current) => {
  // A daemon of its own, so each transport starts from empty target roots.
  const sshd = sshdForTests({ hosts: HOSTS });
  beforeAll(async () => {
    transport = current;
    await sshd.start();
  });
  afterAll(sshd.stop);

  it('applies a site to 3 hosts in parallel; the second apply changes nothing', async () => {
    const kit = sshd.get();
    const config = site(Object.fromEntries(HOSTS.map((name) => [name, sshHost(kit, name)])), (host) => ({
      'directory:/etc/app': {},
      'file:/etc/app/app.conf': { content: `name = ${host}\n`, mode: '0640' },
      'symlink:/etc/app/current': { target: 'app.conf' },
    }));
    const first = await run(config, 'apply');
    expect(first.summary).toMatchObject({ changed: 9, failed: 0, unreachable: 0, hosts: 3 });
    for (const name of HOSTS) {
      const file = path.join(kit.hosts[name]?.root ?? '', 'etc/app/app.conf');
      expect(readFileSync(file, 'utf8')).toBe(`name = ${name}\n`);
      expect(statSync(file).mode & 0o777).toBe(0o640);
    }
    const mark = await kit.mark();
    const second = await run(config, 'apply');
    expect(second.summary).toMatchObject({ changed: 0, ok: 9, failed: 0 });
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 3, execs: 3, sftp: 0 });
  });

  it('verify of 100 files costs one connection and one command; a no-op apply the same; a cold apply O(1)', async () => {
    const kit = sshd.get();
    const config = site({ web1: sshHost(kit, 'web1') }, hundredFiles);
    let mark = await kit.mark();
    const cold = await run(config, 'apply');
    expect(cold.summary).toMatchObject({ changed: 102, failed: 0 });
    const coldCounts = await kit.countsSince(mark);
    expect(coldCounts.connections).toBe(1);
    // Two commands whatever the file count: gather (+ the lock probe); then one batch: the lock's take,
    // the folder, the 100 files (one tar stream) and the symlink after it, the confirming read, the release.
    expect(coldCounts.execs).toBe(2);
    console.log(`cold apply of 100 files (${current.transport}): ${JSON.stringify(coldCounts)}`);
    // The 100 files travel in one command (one tar stream, or one script of them), never per-file SFTP.
    expect(coldCounts.sftp).toBe(0);

    for (const mode of ['verify', 'apply'] as const) {
      mark = await kit.mark();
      const result = await run(config, mode);
      expect(result.summary).toMatchObject({ ok: 102, changed: 0, failed: 0 });
      const counts = await kit.countsSince(mark);
      expect(counts.connections).toBe(1);
      expect(counts.execs).toBeLessThanOrEqual(2);
      expect(counts.sftp).toBe(0);
    }
  });

  it('reports a host that never answers as unreachable after the connect timeout, while the others finish', async () => {
    const kit = sshd.get();
    const silent = await silentHost();
    try {
      const hosts = {
        web2: sshHost(kit, 'web2'),
        dead: { ...sshHost(kit, 'web3', { connectTimeoutMs: 1500 }), port: silent.port },
      };
      const started = Date.now();
      const result = await run(site(hosts, () => ({ 'file:/ping.txt': { content: 'pong\n' } })), 'apply');
      expect(Date.now() - started).toBeLessThan(15000);
      expect(result.summary).toMatchObject({ changed: 1, unreachable: 1 });
      const dead = result.hosts.find((host) => host.host === 'dead');
      expect(dead?.status).toBe('unreachable');
      expect(dead?.error).toMatch(/no SSH connection within 1500 ms/);
      expect(dead?.reason).toBe('timeout');
      expect(readFileSync(path.join(kit.hosts['web2']?.root ?? '', 'ping.txt'), 'utf8')).toBe('pong\n');
    } finally {
      await silent.close();
    }
  });

  it('never shows a secret in plan, apply, events or the sshd log, and writes it 0600', async () => {
    const kit = sshd.get();
    const config = site({ web1: sshHost(kit, 'web1') }, () => ({
      'file:/etc/app/token': { content: secret('api') }, // 0600 by default: the content is a secret
      'file:/etc/app/token.bak': { content: `old\n` },
    }));
    const events: EngineEvent[] = [];
    const plan = await run(config, 'plan', events);
    const apply = await run(config, 'apply', events);
    const again = await run(config, 'verify', events);
    const everything = JSON.stringify({ plan, apply, again, events }) + (await kit.readLog());
    expect(everything).not.toContain(SECRET);
    // An item carrying a secret shows no content diff, only that its content changes.
    expect(plan.hosts[0]?.items[0]?.detail).toBe('content: <secret content changed>');
    const token = path.join(kit.hosts['web1']?.root ?? '', 'etc/app/token');
    expect(readFileSync(token, 'utf8')).toBe(SECRET);
    expect(statSync(token).mode & 0o777).toBe(0o600);
  });

  it('streams a large source file: written exactly, and the controller never holds it whole', async () => {
    const kit = sshd.get();
    const siteDir = mkdtempSync(path.join(tmpdir(), 'fettle-big-source-'));
    try {
      // 96 MiB (a random MiB, repeated) and 1 KiB: the same apply, each in a fresh process.
      const block = randomBytes(1024 * 1024);
      const fd = openSync(path.join(siteDir, 'big.bin'), 'w');
      for (let i = 0; i < 96; i++) writeSync(fd, block);
      closeSync(fd);
      const small = openSync(path.join(siteDir, 'small.bin'), 'w');
      writeSync(small, block.subarray(0, 1024));
      closeSync(small);
      const apply = async (source: string, target: string) => {
        const input = { transport: current.transport, siteDir, source, target, host: sshHost(kit, 'web3') };
        const { stdout } = await promisify(execFile)(process.execPath, [fixture, JSON.stringify(input)], { encoding: 'utf8' });
        return JSON.parse(stdout) as { status: string; error?: string; maxRssMb: number };
      };
      const baseline = await apply('small.bin', '/small.bin');
      const streamed = await apply('big.bin', '/big.bin');
      expect(baseline, baseline.error).toMatchObject({ status: 'changed' });
      expect(streamed, streamed.error).toMatchObject({ status: 'changed' });
      const written = path.join(kit.hosts['web3']?.root ?? '', 'big.bin');
      expect(await sha256(written)).toBe(await sha256(path.join(siteDir, 'big.bin')));
      expect(statSync(written).mode & 0o777).toBe(0o640);
      // Read whole, the 96 MiB would be in memory at least once (about 300 MB more with the copies
      // around it, measured); streamed, what grows is chunks not yet collected, well under the file.
      expect(streamed.maxRssMb - baseline.maxRssMb).toBeLessThan(64);
      // Hashed by stream on the next run too: nothing to do.
      expect(await apply('big.bin', '/big.bin')).toMatchObject({ status: 'ok' });
    } finally {
      rmSync(siteDir, { recursive: true, force: true });
    }
  });

  it('a folder that cannot be made: the files under it are skipped unrun in the same batch, no temp folder left; the others placed', async () => {
    const kit = sshd.get();
    const root = kit.hosts['web1']?.root ?? '';
    writeFileSync(path.join(root, 'blocked'), 'a file where a folder should be\n');
    const config = site({ web1: sshHost(kit, 'web1') }, () => ({
      'directory:/blocked/d': {},
      'file:/blocked/d/a.txt': { content: 'a\n' },
      'directory:/fine': {},
      'file:/fine/b.txt': { content: 'b\n' },
    }));
    const mark = await kit.mark();
    const result = await run(config, 'apply');
    const byId = Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(byId['directory:/blocked/d']?.status).toBe('failed');
    expect(byId['file:/blocked/d/a.txt']).toMatchObject({ status: 'skipped', reason: 'needs directory:/blocked/d, which failed' });
    // Its stage did not run after the failure before it: written in a wave of its own.
    expect(byId['file:/fine/b.txt']?.status).toBe('changed');
    expect(readFileSync(path.join(root, 'fine/b.txt'), 'utf8')).toBe('b\n');
    expect(readdirSync(path.join(root, 'fine'))).toEqual(['b.txt']);
    expect(existsSync(path.join(root, 'var/lib/fettle/lock'))).toBe(false);
    expect((await kit.countsSince(mark)).connections).toBe(1);
  });

  it('a write too big for the batch follows it under the same gates: behind a folder that cannot be made it never runs; behind one made, it lands', async () => {
    const kit = sshd.get();
    const root = kit.hosts['web1']?.root ?? '';
    writeFileSync(path.join(root, 'walled'), 'a file where a folder should be\n');
    const big = 'x'.repeat(5 * 1024 * 1024); // over the 4 MiB a batch script carries
    const config = site({ web1: sshHost(kit, 'web1') }, () => ({
      'directory:/walled/d': {},
      'file:/walled/d/big.txt': { content: big },
      'directory:/roomy': {},
      'file:/roomy/big.txt': { content: big },
    }));
    const result = await run(config, 'apply');
    const byId = Object.fromEntries((result.hosts[0]?.items ?? []).map((item) => [item.id, item]));
    expect(byId['directory:/walled/d']?.status).toBe('failed');
    expect(byId['file:/walled/d/big.txt']).toMatchObject({ status: 'skipped', reason: 'needs directory:/walled/d, which failed' });
    expect(byId['file:/roomy/big.txt'], JSON.stringify(byId)).toMatchObject({ status: 'changed' });
    expect(statSync(path.join(root, 'roomy/big.txt')).size).toBe(big.length);
    expect(readdirSync(path.join(root, 'roomy'))).toEqual(['big.txt']);
    expect(existsSync(path.join(root, 'var/lib/fettle/lock'))).toBe(false);
  });

  it('replacing a symlink by a directory: the files read through the link wait for the directory, then are written', async () => {
    const kit = sshd.get();
    const root = kit.hosts['web2']?.root ?? '';
    mkdirSync(path.join(root, 'elsewhere'));
    writeFileSync(path.join(root, 'elsewhere/x.txt'), 'x\n');
    symlinkSync(path.join(root, 'elsewhere'), path.join(root, 'linked'));
    const config = site({ web2: sshHost(kit, 'web2') }, () => ({ 'directory:/linked': {}, 'file:/linked/x.txt': { content: 'x\n' } }));
    const result = await run(config, 'apply');
    // Through the link x.txt was right; once the link is a folder it is missing, and written.
    expect(result.hosts[0]?.items.map((item) => [item.id, item.status])).toEqual([
      ['directory:/linked', 'changed'],
      ['file:/linked/x.txt', 'changed'],
    ]);
    expect(statSync(path.join(root, 'linked')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(root, 'linked/x.txt'), 'utf8')).toBe('x\n');
    expect(readFileSync(path.join(root, 'elsewhere/x.txt'), 'utf8')).toBe('x\n');
  });

  it('a host locked between the probe and the take gets none of the batch: no folder, no file, no temp folder', async () => {
    const kit = sshd.get();
    const root = kit.hosts['web3']?.root ?? '';
    // Locks the host the way another controller's take would, after the probe (while differences are described).
    const racer = defineItemType({
      name: 'racer',
      attributes: z.strictObject({}),
      cdict: () => ({ done: true }),
      sdict: () => Promise.resolve({ done: false }),
      diffDetail: () => {
        const holder = { user: 'bob@elsewhere', started: Date.now(), pid: 1, comment: 'racing', expires: Date.now() + 3600_000, token: 'x' };
        mkdirSync(path.join(root, 'var/lib/fettle/lock'), { recursive: true });
        writeFileSync(path.join(root, 'var/lib/fettle/lock/holder'), `${JSON.stringify(holder)}\n`);
        return Promise.resolve(undefined);
      },
      fix: () => Promise.resolve({ done: true }),
    });
    const before = readdirSync(root).sort();
    const base = site({ web3: sshHost(kit, 'web3') }, () => ({ 'racer:r': {}, 'directory:/raced': {}, 'file:/raced/a.txt': { content: 'a\n' }, 'file:/raced.txt': { content: 'b\n' } }));
    const config = { ...base, plugins: [...base.plugins, definePlugin({ name: 'racer', itemTypes: [racer] })] };
    const mark = await kit.mark();
    try {
      const result = await run(config, 'apply');
      expect(result.hosts[0]).toMatchObject({ status: 'failed', reason: 'locked' });
      expect(result.hosts[0]?.error).toMatch(/^locked by bob@elsewhere since .*\("racing"\)/);
      expect(result.hosts[0]?.items.every((item) => item.status === 'skipped')).toBe(true);
      expect(readdirSync(root).sort()).toEqual([...new Set([...before, 'var'])].sort());
      expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 2 });
    } finally {
      rmSync(path.join(root, 'var/lib/fettle/lock'), { recursive: true, force: true });
    }
  });
});

const fixture = fileURLToPath(new URL('../test-fixtures/apply-source.mjs', import.meta.url));

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
