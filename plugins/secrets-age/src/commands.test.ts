import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { FettleError, MemoryHostStore, type CommandContext, type CommandDefinition, type LoadedSiteView } from '@fettle/core';
import { describe, expect, it } from 'vitest';
import plugin, {
  createSecretCommand,
  editSecret,
  hostKeySecretName,
  keygenController,
  keygenHost,
  printSecret,
  readSecretValue,
  setSecret,
  type SecretCommandIO,
} from './index.js';
import { run, tempDir, testSite, type TestSite } from './testing.js';

const noEnv = {};

/** An editor script that records the modes of the file and its folder, then types `value`. */
async function fakeEditor(value: string): Promise<{ editor: string; record: string; tmpDir: string }> {
  const dir = await tempDir('fettle-editor-');
  const record = path.join(dir, 'record');
  const script = path.join(dir, 'editor.sh');
  await writeFile(script, `#!/bin/sh\nstat -c '%a' "$1" > '${record}'\nstat -c '%a' "$(dirname "$1")" >> '${record}'\necho "$1" >> '${record}'\nprintf '%s\\n' '${value}' > "$1"\n`);
  await chmod(script, 0o755);
  const tmp = await tempDir('fettle-edit-tmp-');
  return { editor: script, record, tmpDir: tmp };
}

describe('secret values', () => {
  it('come from piped stdin, one final newline dropped unless --raw', async () => {
    const site = await testSite();
    await site.host('node1');
    await setSecret(site.store, 'a', { stdin: Readable.from(['hunter', '2\n']), stdinIsTTY: false, env: noEnv }, { hosts: ['node1'] });
    expect(await site.store.get('a')).toBe('hunter2');
    await setSecret(site.store, 'b', { stdin: Readable.from(['line\n']), stdinIsTTY: false, env: noEnv, raw: true });
    expect(await site.store.get('b')).toBe('line\n');
    expect(await site.store.readers('a')).toEqual({ hosts: ['node1'], groups: [] });
  });

  it('come from $EDITOR on a terminal, in a 0600 file in a private folder that is removed afterwards', async () => {
    const { editor, record, tmpDir } = await fakeEditor('typed value');
    const value = await readSecretValue({ stdin: Readable.from([]), stdinIsTTY: true, env: { EDITOR: editor }, tmpDir });
    expect(Buffer.from(value).toString('utf8')).toBe('typed value');
    const [fileMode, dirMode, file] = (await readFile(record, 'utf8')).trim().split('\n');
    expect(fileMode).toBe('600');
    expect(dirMode).toBe('700');
    expect(path.dirname(path.dirname(file ?? ''))).toBe(tmpDir);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('edit re-encrypts for the same readers, and leaves the secret alone when nothing changed or the editor fails', async () => {
    const site = await testSite();
    await site.host('node1');
    await site.store.set('s', 'old', { hosts: ['node1'] });
    const { editor, tmpDir } = await fakeEditor('new');
    expect(await editSecret(site.store, 's', { env: { EDITOR: editor }, tmpDir })).toBe(true);
    expect(await site.store.get('s')).toBe('new');
    expect(await site.store.readerHosts('s')).toEqual(['node1']);

    const before = await readFile(path.join(site.dir, 'secrets', 's.age'));
    expect(await editSecret(site.store, 's', { env: { VISUAL: 'true' }, tmpDir })).toBe(false);
    const failed = await editSecret(site.store, 's', { env: { EDITOR: 'false' }, tmpDir }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(FettleError);
    expect((failed as FettleError).message).toBe('the editor exited with code 1; nothing was saved');
    expect(await readFile(path.join(site.dir, 'secrets', 's.age'))).toEqual(before);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('get prints the exact plaintext', async () => {
    const site = await testSite();
    await site.store.set('s', 'exact\n');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await printSecret(site.store, 's', out);
    expect(Buffer.concat(chunks).toString()).toBe('exact\n');
  });
});

describe('keygen', () => {
  it('writes the controller key with mode 0600 and refuses to replace it', async () => {
    const site = await testSite();
    const made = await keygenController({ out: 'ctl/controller.key', base: site.dir });
    expect(made.path).toBe(path.join(site.dir, 'ctl', 'controller.key'));
    expect(((await stat(made.path ?? '')).mode & 0o777).toString(8)).toBe('600');
    expect(run('age-keygen', ['-y', made.path ?? '']).toString().trim()).toBe(made.recipient);
    await expect(keygenController({ out: 'ctl/controller.key', base: site.dir })).rejects.toThrow(/already exists/);
    expect((await keygenController({ out: '-' })).path).toBeUndefined();
  });

  it('makes a host key: public key file, and the identity as a secret only that host (and the controller) can read', async () => {
    const site = await testSite();
    const made = await keygenHost(site.store, 'node1');
    expect(made.secret).toBe(hostKeySecretName('node1'));
    expect((await readFile(path.join(site.dir, 'keys', 'hosts', 'node1.pub'), 'utf8')).trim()).toBe(made.recipient);
    const identity = await site.store.get('host-key.node1', 'node1');
    expect(await site.store.getAsHost('host-key.node1', identity)).toBe(identity);
    await expect(site.store.get('host-key.node1', 'node2')).rejects.toThrow(/may not read/);
    await expect(keygenHost(site.store, 'node1')).rejects.toThrow(/already has a key/);
    const replaced = await keygenHost(site.store, 'node1', { force: true, out: path.join(site.dir, 'node1.key') });
    expect(replaced.recipient).not.toBe(made.recipient);
    expect(run('age-keygen', ['-y', path.join(site.dir, 'node1.key')]).toString().trim()).toBe(replaced.recipient);
  });
});

interface Captured {
  readonly lines: string[];
  readonly errors: string[];
  readonly json: unknown[];
  readonly stdout: () => string;
}

function harness(site: TestSite, stdin: string[] = []): { command: CommandDefinition; captured: Captured; context: (sub: string, args: string[], options: Record<string, unknown>, json?: boolean) => CommandContext } {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const io: SecretCommandIO = { stdin: Readable.from(stdin), stdinIsTTY: false, stdout, env: noEnv };
  const captured: Captured = { lines: [], errors: [], json: [], stdout: () => Buffer.concat(chunks).toString() };
  const hosts = new MemoryHostStore({ hosts: { node1: {}, node2: {} }, groups: { web: ['node2'] } });
  const view: LoadedSiteView = { dir: site.dir, hosts, secrets: site.store };
  return {
    command: createSecretCommand(() => io),
    captured,
    context: (_sub, args, options, json = false) => ({
      args,
      options,
      siteDir: site.dir,
      site: () => Promise.resolve(view),
      selectHosts: () => Promise.resolve([]),
      connect: () => Promise.reject(new Error('the secret commands never connect to hosts')),
      out: { line: (t) => captured.lines.push(t), json: (v) => captured.json.push(v), error: (t) => captured.errors.push(t) },
      json,
      isTTY: false,
    }),
  };
}

async function runSub(h: ReturnType<typeof harness>, sub: string, args: string[] = [], options: Record<string, unknown> = {}, json = false): Promise<number> {
  const definition = h.command.subcommands?.find((candidate) => candidate.name === sub);
  if (!definition?.run) throw new Error(`no subcommand ${sub}`);
  return definition.run(h.context(sub, args, options, json));
}

describe('the `fettle secret` command definitions', () => {
  it('are in the plugin with keygen, set, get, edit, list and rekey', () => {
    expect(plugin.name).toBe('@fettle/secrets-age');
    expect(plugin.secretStores?.map((s) => s.name)).toEqual(['age']);
    const secret = plugin.commands?.[0];
    expect(secret?.name).toBe('secret');
    expect(secret?.subcommands?.map((s) => s.name)).toEqual(['keygen', 'set', 'get', 'edit', 'list', 'rekey']);
    const set = secret?.subcommands?.find((s) => s.name === 'set');
    expect(set?.args).toBe('<name>');
    expect(set?.options?.map((o) => o.flags)).toEqual(['--host <host...>', '--group <group...>', '--raw']);
  });

  it('set, get, list and rekey through a CommandContext', async () => {
    const site = await testSite({ groups: { web: ['node2'] } });
    await site.host('node1');
    await site.host('node2');
    const h = harness(site, ['s3cret\n']);
    expect(await runSub(h, 'set', ['db'], { host: ['node1'], group: ['web'] })).toBe(0);
    expect(h.captured.lines).toEqual(['stored db for the controller and node1, node2']);
    expect(await runSub(h, 'get', ['db'])).toBe(0);
    expect(h.captured.stdout()).toBe('s3cret');
    expect(await runSub(h, 'list')).toBe(0);
    expect(h.captured.lines.at(-1)).toBe('db  host:node1 group:web');
    expect(await runSub(h, 'rekey', [], {}, true)).toBe(0);
    expect(h.captured.json).toEqual([[{ name: 'db', hosts: ['node1', 'node2'] }]]);
    expect(await runSub(h, 'keygen', [], { host: 'node3' })).toBe(0);
    expect(h.captured.lines.at(-1)).toBe('its identity is in the secret host-key.node3');
  });

  it('keygen writes the configured controller key file', async () => {
    const site = await testSite();
    const h = harness(site);
    await expect(runSub(h, 'keygen')).rejects.toThrow(/already exists/);
    expect(await runSub(h, 'keygen', [], { out: 'second.key' })).toBe(0);
    expect(h.captured.lines[0]).toBe(`wrote ${path.join(site.dir, 'second.key')} (mode 0600)`);
    // A key inside the site would be committed with it: fettle keeps it out of git, and says so.
    expect(h.captured.errors[0]).toBe(`notice: ${path.join(site.dir, 'second.key')} is inside the site folder; added it to ${path.join(site.dir, '.gitignore')} so the private key is not committed`);
    expect(await readFile(path.join(site.dir, '.gitignore'), 'utf8')).toContain('\n/second.key\n');
    expect(await runSub(h, 'keygen', [], { out: '-' })).toBe(0);
    expect(h.captured.stdout()).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}\n$/);
    expect(h.captured.errors.at(-1)).toMatch(/^public key: age1/);
  });
});
