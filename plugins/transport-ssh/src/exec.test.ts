import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { HostSession, sh, type Transport } from '@fettle/core';
import { sshdForTests } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection, testContext } from './test-support.js';

describe('ssh transport: exec', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  let transport: Transport;
  beforeAll(async () => {
    await sshd.start();
    transport = await connectHost(kitHost(sshd.get()));
  });
  afterAll(async () => {
    await transport?.close();
    await sshd.stop();
  });

  it('returns stdout, stderr and the exit code as bytes', async () => {
    const result = await transport.exec('echo out; echo err 1>&2; exit 3');
    expect(result.code).toBe(3);
    expect(result.stdout.toString()).toBe('out\n');
    expect(result.stderr.toString()).toBe('err\n');
    expect(Buffer.isBuffer(result.stdout)).toBe(true);
  });

  it('reports a signal death as code null with the signal', async () => {
    const result = await transport.exec('kill -TERM $$');
    expect(result.code).toBeNull();
    expect(result.signal).toBe('SIGTERM');
  });

  it('passes stdin, and a 1 MiB stdin arrives intact', async () => {
    expect((await transport.exec('cat', { stdin: 'hello' })).stdout.toString()).toBe('hello');
    const big = randomBytes(1024 * 1024);
    const result = await transport.exec('sha256sum | cut -d" " -f1; ', { stdin: big });
    expect(result.code).toBe(0);
    expect(result.stdout.toString().trim()).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('finishes each channel without ending it twice (no ERR_STREAM_ALREADY_FINISHED built per command)', async () => {
    // Node destroys a channel once both sides are done; ssh2's destroy() would end() it again.
    const original = Object.getOwnPropertyDescriptor(Duplex.prototype, 'end');
    const end = original?.value as (this: Duplex, ...args: unknown[]) => Duplex;
    let lateEnds = 0;
    Object.defineProperty(Duplex.prototype, 'end', {
      ...original,
      value(this: Duplex, ...args: unknown[]) {
        if (this.writableFinished) lateEnds++;
        return end.apply(this, args);
      },
    });
    try {
      const results = await Promise.all([transport.exec('echo a'), transport.exec('cat', { stdin: 'b' }), transport.exec('sh -s', { stdin: 'echo c\n' })]);
      expect(results.map((r) => r.stdout.toString())).toEqual(['a\n', 'b', 'c\n']);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the channels' own close and destroy
    } finally {
      if (original) Object.defineProperty(Duplex.prototype, 'end', original);
    }
    expect(lateEnds).toBe(0);
  });

  it('runs the engine batch shape: sh -s with the script on stdin', async () => {
    const script = 'echo one\necho two >&2\nexit 0\n';
    const result = await transport.exec('sh -s', { stdin: script });
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.toString()).toBe('one\n');
    expect(result.stderr.toString()).toBe('two\n');
  });

  it('runs 50 execs at once on one connection, all succeed, 1 connection counted', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    const own = await connectHost(kitHost(kit));
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => own.exec(`echo ${i}`)));
      results.forEach((result, i) => expect(result.stdout.toString()).toBe(`${i}\n`));
    } finally {
      await own.close();
    }
    const counts = await kit.countsSince(mark);
    expect(counts).toMatchObject({ connections: 1, execs: 50, sftp: 0, failedAuth: 0 });
  });

  it('costs exactly one remote exec per exec (round-trip shape)', async () => {
    const kit = sshd.get();
    const mark = await kit.mark();
    for (let i = 0; i < 7; i++) await transport.exec('true');
    await Promise.all([transport.exec('true'), transport.exec('true'), transport.exec('true')]);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 0, execs: 10, sftp: 0 });
  });

  it("carries the engine's batched tick (HostSession) in one remote exec", async () => {
    const kit = sshd.get();
    const host = kitHost(kit);
    const session = new HostSession(host, transport, process.cwd());
    const mark = await kit.mark();
    const results = await Promise.all([
      session.context.run(sh`echo a`),
      session.context.run(sh`cat`, { stdin: 'b' }),
      session.context.run(sh`echo c >&2; exit 4`),
    ]);
    expect(results).toEqual([
      { code: 0, stdout: 'a\n', stderr: '' },
      { code: 0, stdout: 'b', stderr: '' },
      { code: 4, stdout: '', stderr: 'c\n' },
    ]);
    expect(session.stats.execs).toBe(1);
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 0, execs: 1 });
  });

  it('kills a command at its timeout and keeps the connection usable', async () => {
    const started = Date.now();
    const error = await rejection(transport.exec('sleep 20', { timeoutMs: 300 }));
    expect(error.message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await transport.exec('echo still here')).stdout.toString()).toBe('still here\n');
  });

  it('uses commandTimeoutMs from the options', async () => {
    const own = await connectHost(kitHost(sshd.get(), { commandTimeoutMs: 250 }));
    try {
      expect((await rejection(own.exec('sleep 20'))).message).toMatch(/timed out after 250 ms/);
    } finally {
      await own.close();
    }
  });

  it('exposes root from the options', async () => {
    const kit = sshd.get();
    const own = await connectHost(kitHost(kit, { root: kit.hosts['node1']?.root ?? '/' }));
    expect(own.root).toBe(kit.hosts['node1']?.root);
    await own.close();
    expect((await rejection(own.exec('true'))).message).toMatch(/closed/);
  });

  it('with a context that never warns or prompts in the happy path', async () => {
    const ctx = testContext(() => 'unused');
    const own = await connectHost(kitHost(sshd.get()), ctx.context);
    await own.exec('true');
    await own.close();
    expect(ctx.warnings).toEqual([]);
    expect(ctx.questions).toEqual([]);
  });
});
