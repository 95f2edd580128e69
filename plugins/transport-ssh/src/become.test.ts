import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { MemoryHostStore, Registry, defineFact, defineItemType, definePlugin, joinShell, runSite, sh, z, type ItemContext, type Transport } from '@fettle/core';
import { authorizeKey, createTestUser, grantNopasswdSudo, sshdForTests, type TestUser } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHost, kitHost, rejection, testContext } from './test-support.js';
import sshPlugin from './index.js';

const run = promisify(execFile);

/** testkit has no helper for a password-protected sudo user: set a password and a rule that requires it. */
async function grantPasswordSudo(user: TestUser, password: string): Promise<() => Promise<void>> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${String(code)}`))));
    child.stdin.end(`${user.name}:${password}\n`);
  });
  const file = `/etc/sudoers.d/fettle-test-pw-${user.name}`;
  const temp = `/etc/sudoers.d/.fettle-test-pw-${user.name}.tmp`; // names with '.' are ignored by sudo
  await writeFile(temp, `${user.name} ALL=(ALL) ALL\n`, { mode: 0o440 });
  await run('visudo', ['-cf', temp]);
  await rename(temp, file);
  return () => rm(file, { force: true });
}

const leftovers = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.includes('.fettle-'));

describe('ssh transport: become (sudo)', () => {
  const sshd = sshdForTests({ hosts: ['node1'] });
  const cleanups: (() => Promise<void>)[] = [];
  let nopasswd: TestUser;
  let withPassword: TestUser;
  let root: string;
  const password = `pw-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    await sshd.start();
    const kit = sshd.get();
    root = kit.hosts['node1']?.root ?? '';
    nopasswd = await createTestUser('fettlesudo');
    cleanups.push(() => nopasswd.remove());
    cleanups.push(await grantNopasswdSudo(nopasswd));
    await authorizeKey(nopasswd, kit.clientPublicKey);
    withPassword = await createTestUser('fettlepw');
    cleanups.push(() => withPassword.remove());
    cleanups.push(await grantPasswordSudo(withPassword, password));
    await authorizeKey(withPassword, kit.clientPublicKey);
  });
  afterAll(async () => {
    await sshd.stop();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  describe('NOPASSWD', () => {
    let transport: Transport;
    beforeAll(async () => {
      transport = await connectHost(kitHost(sshd.get(), { become: 'sudo', root }, { user: nopasswd.name }));
    });
    afterAll(() => transport?.close());

    it('runs commands as root, stdin included', async () => {
      expect((await transport.exec('id -un')).stdout.toString()).toBe('root\n');
      expect((await transport.exec('sh -s', { stdin: 'id -u; cat /proc/self/loginuid >/dev/null; echo done\n' })).stdout.toString()).toBe('0\ndone\n');
    });

    it('writes a root-owned file in a root-owned folder through one exec (no SFTP)', async () => {
      const kit = sshd.get();
      const dir = path.join(root, 'etc-like');
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o755);
      const file = path.join(dir, 'secret.conf');
      const mark = await kit.mark();
      await transport.writeFile(file, 'token=1\n', { mode: '0600', owner: 'root', group: 'root' });
      expect(await kit.countsSince(mark)).toMatchObject({ execs: 1, sftp: 0 });
      const info = await stat(file);
      expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([0, 0, 0o600]);
      expect(await readFile(file, 'utf8')).toBe('token=1\n');
      expect((await transport.readFile(file))?.toString()).toBe('token=1\n');
      expect(await transport.stat(file)).toEqual({ type: 'file', size: 8, mode: '0600' });
      expect(await transport.stat(path.join(dir, 'missing'))).toBeNull();
      expect(await transport.readFile(path.join(dir, 'missing'))).toBeNull();
    });

    it('through the engine: a root-only folder and its files, cold, in two commands (the writes ride in the batch, under sudo)', async () => {
      const kit = sshd.get();
      // What a path holds: `-` for nothing, else its owner uid and content.
      const held = defineFact<string, string>({
        name: 'test.held',
        command: (paths, env) => joinShell(paths.map((p) => sh`p=${env.hostPath(p)}; if [ -e "$p" ]; then printf '%s:' "$(stat -c %u -- "$p")"; [ -f "$p" ] && base64 -w0 -- "$p"; echo; else echo -; fi`), '\n'),
        parse: (stdout) => stdout.split('\n').slice(0, -1),
      });
      const state = async (name: string, context: Pick<ItemContext, 'fact'>) => {
        const line = await context.fact(held, name);
        return line === '-' ? null : { held: line };
      };
      const folder = defineItemType({
        name: 'rootdir',
        attributes: z.strictObject({}),
        pathScope: 'container',
        cdict: () => ({ held: '0:' }),
        sdict: (item, context) => state(item.name, context),
        fix: async (_change, item, context) => {
          await context.runChecked(sh`mkdir -m 0700 -- ${context.hostPath(item.name)}`);
        },
      });
      const secretFile = defineItemType({
        name: 'rootfile',
        attributes: z.strictObject({ content: z.string() }),
        pathScope: 'leaf',
        implicitNeeds: (item) => [`rootdir:${path.posix.dirname(item.name)}`],
        cdict: (item) => ({ held: `0:${Buffer.from(item.attrs.content).toString('base64')}` }),
        sdict: (item, context) => state(item.name, context),
        fix: async (_change, item, context) => {
          await context.writeFile(item.name, item.attrs.content, { mode: '0600', owner: 'root', group: 'root' });
        },
      });
      const items: Record<string, Record<string, unknown>> = { 'rootdir:/vault': {} };
      for (let i = 0; i < 20; i++) items[`rootfile:/vault/f${String(i)}`] = { content: `file ${String(i)}\n` };
      const host = kitHost(kit, { become: 'sudo', root }, { user: nopasswd.name });
      const config = {
        plugins: [sshPlugin, definePlugin({ name: 'vault', itemTypes: [folder, secretFile] })],
        hosts: new MemoryHostStore({ hosts: { node1: { transport: 'ssh', address: host.address, port: host.port, user: host.user, transportOptions: host.transportOptions } }, defaultRoles: ['r'] }),
        roles: { r: () => items },
      };
      const mark = await kit.mark();
      const result = await runSite({ site: config, siteDir: '/tmp', registry: new Registry(config.plugins), hosts: await config.hosts.listHosts(), mode: 'apply' });
      expect(result.summary).toMatchObject({ changed: 21, failed: 0 });
      expect(await kit.countsSince(mark)).toMatchObject({ connections: 1, execs: 2, sftp: 0 });
      const info = await stat(path.join(root, 'vault/f7'));
      expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([0, 0, 0o600]);
      expect(await readFile(path.join(root, 'vault/f7'), 'utf8')).toBe('file 7\n');
      expect(await leftovers(path.join(root, 'vault'))).toEqual([]);
    });

    it('writes 20 files made in one tick with ONE command; a bad one fails alone (its folder costs one more, on the failure path only)', async () => {
      const kit = sshd.get();
      const dir = path.join(root, 'batch');
      await mkdir(dir, { recursive: true });
      const mark = await kit.mark();
      const results = await Promise.allSettled([
        ...Array.from({ length: 20 }, (_, i) => transport.writeFile(path.join(dir, `f${i}`), `file ${i}\n`, { mode: '0640', owner: 'root', group: 'nogroup' })),
        transport.writeFile(path.join(dir, 'missing-dir', 'x'), 'x'),
      ]);
      // The batch stops before extracting when a folder is missing (tar would create it); the rest go again.
      expect(await kit.countsSince(mark)).toMatchObject({ execs: 2, sftp: 0 });
      expect(results.slice(0, 20).every((result) => result.status === 'fulfilled')).toBe(true);
      const bad = results[20];
      expect(bad?.status === 'rejected' && String(bad.reason)).toMatch(/cannot write .*missing-dir\/x: missing parent directory/);
      expect(await leftovers(dir)).toEqual([]);
      const info = await stat(path.join(dir, 'f7'));
      expect([info.uid, info.gid, info.mode & 0o7777]).toEqual([0, 65534, 0o640]);
      expect(await readFile(path.join(dir, 'f19'), 'utf8')).toBe('file 19\n');
      expect((await readdir(dir)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`).sort());
    });

    it('fails a write cleanly under become, leaving no temp file', async () => {
      const error = await rejection(transport.writeFile(path.join(root, 'no-such-dir', 'f'), 'x'));
      expect(error.message).toMatch(/cannot write/);
    });

    it('without become, the login user cannot write there, and the error says why', async () => {
      const plain = await connectHost(kitHost(sshd.get(), { root }, { user: nopasswd.name }));
      try {
        const error = await rejection(plain.writeFile(path.join(root, 'etc-like', 'denied.conf'), 'x'));
        expect(error.message).toMatch(/cannot write .*denied\.conf: permission denied/);
        expect((error as { hint?: string }).hint).toMatch(/become: 'sudo'/);
      } finally {
        await plain.close();
      }
    });
  });

  describe('sudo password', () => {
    it("'prompt' asks once per run, sends the password only to sudo, and stdin payloads arrive intact", async () => {
      const ctx = testContext(() => password);
      const transport = await connectHost(kitHost(sshd.get(), { become: 'sudo', sudoPassword: 'prompt', root }, { user: withPassword.name }), ctx.context);
      try {
        const results = await Promise.all(Array.from({ length: 5 }, (_, i) => transport.exec('id -u; cat', { stdin: `payload ${i}\n` })));
        results.forEach((result, i) => {
          expect(result.code).toBe(0);
          expect(result.stdout.toString()).toBe(`0\npayload ${i}\n`);
          expect(result.stderr.toString()).not.toContain(password);
          expect(result.stderr.toString()).not.toMatch(/fettle-(sudo|ready)-/);
        });
        const big = randomBytes(256 * 1024);
        expect((await transport.exec('wc -c', { stdin: big })).stdout.toString().trim()).toBe(String(big.length));
        // Writes go through the same gate: the tar stream follows the password, never before it.
        const owned = path.join(root, 'pw-written');
        await Promise.all([transport.writeFile(owned, 'through sudo -S\n', { mode: '0600', owner: 'root' }), transport.writeFile(`${owned}-2`, big)]);
        const info = await stat(owned);
        expect([info.uid, info.mode & 0o7777]).toEqual([0, 0o600]);
        expect(await readFile(owned, 'utf8')).toBe('through sudo -S\n');
        expect((await readFile(`${owned}-2`)).equals(big)).toBe(true);
      } finally {
        await transport.close();
      }
      expect(ctx.questions).toHaveLength(1);
      expect(ctx.warnings.join('\n')).not.toContain(password);
    });

    it('with a password configured but a NOPASSWD rule, nothing is asked and no password line reaches the command', async () => {
      const ctx = testContext(() => password);
      const transport = await connectHost(kitHost(sshd.get(), { become: 'sudo', sudoPassword: 'prompt' }, { user: nopasswd.name }), ctx.context);
      try {
        const result = await transport.exec('id -un; cat', { stdin: 'first line of the payload\n' });
        expect(result.stdout.toString()).toBe('root\nfirst line of the payload\n');
      } finally {
        await transport.close();
      }
      expect(ctx.questions).toEqual([]);
    });

    it('{env} reads the password from the environment', async () => {
      process.env['FETTLE_TEST_SUDO_PASSWORD'] = password;
      try {
        const transport = await connectHost(kitHost(sshd.get(), { become: 'sudo', sudoPassword: { env: 'FETTLE_TEST_SUDO_PASSWORD' } }, { user: withPassword.name }));
        expect((await transport.exec('id -un')).stdout.toString()).toBe('root\n');
        await transport.close();
      } finally {
        delete process.env['FETTLE_TEST_SUDO_PASSWORD'];
      }
    });

    it('a wrong password fails once, is never retried, and never appears in errors', async () => {
      const kit = sshd.get();
      const wrong = `wrong-${randomBytes(4).toString('hex')}`;
      const ctx = testContext(() => wrong);
      const transport = await connectHost(kitHost(kit, { become: 'sudo', sudoPassword: 'prompt' }, { user: withPassword.name }), ctx.context);
      const mark = await kit.mark();
      try {
        const first = await rejection(transport.exec('id -u'));
        expect(first.message).toMatch(/sudo rejected the password/);
        const second = await rejection(transport.exec('id -u'));
        expect(second.message).toMatch(/not trying again/);
        for (const text of [first.message, second.message, ...ctx.warnings]) {
          expect(text).not.toContain(wrong);
          expect(text).not.toContain(password);
        }
      } finally {
        await transport.close();
      }
      expect(ctx.questions).toHaveLength(1);
      expect(await kit.countsSince(mark)).toMatchObject({ execs: 1 });
    });

    it("'none' with a password-protected sudo fails fast with sudo's own message", async () => {
      const transport = await connectHost(kitHost(sshd.get(), { become: 'sudo' }, { user: withPassword.name }));
      try {
        const result = await transport.exec('id -u');
        expect(result.code).not.toBe(0);
        expect(result.stderr.toString()).toMatch(/password is required/);
      } finally {
        await transport.close();
      }
    });
  });
});
