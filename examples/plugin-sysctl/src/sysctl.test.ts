import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factEnv, runItems, type ItemMap, type RunMode } from '@fettle/core';
import localTransport from '@fettle/transport-local';
import sshTransport from '@fettle/transport-ssh';
import { snapshotTree, sshdForTests } from '@fettle/testkit';
import sysctlPlugin, { live, persisted } from './index.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const env = factEnv();
const framed = (code: number, text: string): string => `@${code} ${Buffer.byteLength(text)}\n${text}`;

describe('facts, on recorded outputs', () => {
  it('sysctl.persisted reads a key from a hand-written drop-in, and null when the file or the key is missing', () => {
    const file = '/etc/sysctl.d/99-custom.conf';
    const queries = ['vm.swappiness', 'net.ipv4.tcp_rmem', 'kernel.pid_max', 'kernel.absent'].map((key) => ({ file, key }));
    const text = fixture('sysctl.d-99-custom.conf');
    const stdout = [...queries.map(() => framed(0, text)), framed(1, '')].join('');
    expect(persisted.parse(stdout, [...queries, { file: '/none', key: 'vm.swappiness' }], env)).toEqual(['10', '4096 131072 6291456', '4194304', null, null]);
  });

  it('sysctl.live normalises the tabs /proc/sys prints', () => {
    const out = fixture('proc-sys-net-ipv4-tcp_rmem.txt');
    expect(live.parse(framed(0, out) + framed(1, ''), ['net.ipv4.tcp_rmem', 'net.no.such'], env)).toEqual([out.trim().split(/\s+/).join(' '), null]);
  });
});

describe('the copyable template', () => {
  it('keeps the whole item type, facts and plugin in under 80 lines', () => {
    expect(readFileSync(new URL('./index.ts', import.meta.url), 'utf8').trimEnd().split('\n').length).toBeLessThan(80);
  });
});

describe('sysctl items over a real sshd', () => {
  const sshd = sshdForTests({ hosts: ['h1'] });
  beforeAll(sshd.start);
  afterAll(sshd.stop);
  let siteDir: string;
  beforeAll(async () => {
    siteDir = await mkdtemp(path.join(tmpdir(), 'fettle-sysctl-'));
  });
  afterAll(async () => {
    await rm(siteDir, { recursive: true, force: true });
  });

  const run = (items: ItemMap, mode: RunMode) =>
    runItems({ plugins: [sysctlPlugin, sshTransport], hostName: 'h1', host: sshd.get().inventoryHost('h1'), items, mode, siteDir });

  // Ten settings kept in files; one set in the running kernel too. The test host's root is a sandbox, so its
  // /proc/sys is a file planted there: the real kernel's kernel.ostype is read-only, and stays 'Linux'.
  const items: ItemMap = {
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`sysctl:net.fettle.test${i}`, { value: `${i}  ${i * 2}` }] as const)),
    'sysctl:kernel.ostype': { value: 'Fettle', live: true },
  };

  it('plans, applies in O(1) round trips, and a second apply or a verify costs one connection and at most two commands', async () => {
    const kit = sshd.get();
    const root = kit.hosts['h1']?.root ?? '';
    mkdirSync(path.join(root, 'proc/sys/kernel'), { recursive: true });
    writeFileSync(path.join(root, 'proc/sys/kernel/ostype'), 'Linux\n');
    const plan = await run(items, 'plan');
    expect(plan.result.summary).toMatchObject({ wouldChange: 11, failed: 0 });

    let mark = await kit.mark();
    const cold = await run(items, 'apply');
    expect(cold.result.summary).toMatchObject({ changed: 11, failed: 0 });
    const coldCounts = await kit.countsSince(mark);
    expect(coldCounts.connections).toBe(1);
    expect(coldCounts.execs).toBeLessThanOrEqual(6);
    const file = path.join(root, 'etc/sysctl.d/90-fettle-net.fettle.test3.conf');
    expect(readFileSync(file, 'utf8')).toBe('# managed by fettle\nnet.fettle.test3 = 3 6\n');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readFileSync(path.join(root, 'proc/sys/kernel/ostype'), 'utf8')).toBe('Fettle\n');
    expect(readFileSync('/proc/sys/kernel/ostype', 'utf8')).toBe('Linux\n');

    for (const mode of ['apply', 'verify'] as const) {
      mark = await kit.mark();
      const again = await run(items, mode);
      expect(again.result.summary).toMatchObject({ changed: 0, ok: 11, failed: 0 });
      const counts = await kit.countsSince(mark);
      expect(counts).toMatchObject({ connections: 1, sftp: 0 });
      expect(counts.execs).toBeLessThanOrEqual(2);
    }
  });

  it('refuses a name that is no sysctl key, before touching the host', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    await expect(run({ 'sysctl:Not A Key': { value: 1 } }, 'plan')).rejects.toThrow(/expected a sysctl key such as vm.swappiness/);
    expect((await kit.countsSince(mark)).connections).toBe(0);
  });
});

describe('sysctl on the local transport with a sandbox root', () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });

  it('writes its file and its live value inside the sandbox only: the same paths outside it, and the kernel, stay as they were', async () => {
    // `outside` is a real folder; the item's file attribute names a path in it, which under the
    // sandbox root means <root><outside>/…. A command that forgot hostPath() would change the real one.
    const outside = await mkdtemp(path.join(tmpdir(), 'fettle-sysctl-outside-'));
    const root = await mkdtemp(path.join(tmpdir(), 'fettle-sysctl-root-'));
    made.push(outside, root);
    writeFileSync(path.join(outside, 'ostype.conf'), 'kernel.ostype = Linux\n');
    mkdirSync(path.join(root, 'proc/sys/kernel'), { recursive: true });
    writeFileSync(path.join(root, 'proc/sys/kernel/ostype'), 'Linux\n');
    const before = snapshotTree(outside);
    const kernel = readFileSync('/proc/sys/kernel/ostype', 'utf8');

    const items: ItemMap = { 'sysctl:kernel.ostype': { value: 'Fettle', live: true, file: path.join(outside, 'ostype.conf') } };
    const run = (mode: RunMode) => runItems({ plugins: [sysctlPlugin, localTransport], hostName: 'h', host: { transport: 'local', transportOptions: { root } }, items, mode, siteDir: root });
    const applied = await run('apply');
    expect(applied.result.summary).toMatchObject({ changed: 1, failed: 0 });
    expect(readFileSync(path.join(root, outside, 'ostype.conf'), 'utf8')).toBe('# managed by fettle\nkernel.ostype = Fettle\n');
    expect(readFileSync(path.join(root, 'proc/sys/kernel/ostype'), 'utf8')).toBe('Fettle\n');
    expect((await run('verify')).result.summary).toMatchObject({ ok: 1, failed: 0 });

    expect(snapshotTree(outside)).toEqual(before);
    expect(readFileSync('/proc/sys/kernel/ostype', 'utf8')).toBe(kernel);
  });
});
