import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FettleError, MemoryHostStore, formatError } from '@fettle/core';
import { describe, expect, it } from 'vitest';
import { ageSecretStore, groupsOf } from './index.js';
import { failure, testSite } from './testing.js';

/** Every text an error carries, down its cause chain. */
function everything(error: unknown): string {
  const parts: string[] = [formatError(error)];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.message, current.stack ?? '', JSON.stringify(current));
    if (current instanceof FettleError) parts.push(current.where ?? '', current.expected ?? '', current.hint ?? '');
    current = current.cause;
  }
  return parts.join('\n');
}


describe('readers', () => {
  it("a host's key decrypts only what was shared with it, and get(name, host) refuses the others", async () => {
    const site = await testSite({ groups: { web: ['node1', 'node3'] } });
    const keys = { node1: await site.host('node1'), node2: await site.host('node2'), node3: await site.host('node3') };
    await site.store.set('a', 'value-a', { hosts: ['node1'] });
    await site.store.set('b', 'value-b', { hosts: ['node2'] });
    await site.store.set('c', 'value-c', { groups: ['web'] });
    await site.store.set('d', 'value-d');

    const canRead = { node1: ['a', 'c'], node2: ['b'], node3: ['c'] } as const;
    for (const [host, key] of Object.entries(keys) as [keyof typeof keys, { identity: string }][]) {
      for (const name of ['a', 'b', 'c', 'd']) {
        const allowed = (canRead[host] as readonly string[]).includes(name);
        const asHost = (): Promise<string> => site.store.getAsHost(name, key.identity);
        const forHost = (): Promise<string> => site.store.get(name, host);
        if (allowed) {
          await expect(asHost()).resolves.toBe(`value-${name}`);
          await expect(forHost()).resolves.toBe(`value-${name}`);
        } else {
          const error = await failure(asHost());
          expect(error.code).toBe('E_SECRET');
          expect(error.message).toContain(`cannot decrypt secret '${name}'`);
          const refused = await failure(forHost());
          expect(refused.code).toBe('E_SECRET');
          expect(refused.message).toBe(`host '${host}' may not read secret '${name}'`);
          expect(refused.where).toBe(path.join(site.dir, 'secrets', `${name}.readers.json`));
        }
      }
    }
    // The controller reads everything.
    for (const name of ['a', 'b', 'c', 'd']) expect(await site.store.get(name)).toBe(`value-${name}`);
    expect(await site.store.listWithReaders()).toEqual([
      { name: 'a', hosts: ['node1'], groups: [] },
      { name: 'b', hosts: ['node2'], groups: [] },
      { name: 'c', hosts: [], groups: ['web'] },
      { name: 'd', hosts: [], groups: [] },
    ]);
  });

  it('after rekey without a host, that host cannot read the new version', async () => {
    const site = await testSite();
    const node1 = await site.host('node1');
    const node2 = await site.host('node2');
    await site.store.set('db', 'hunter2', { hosts: ['node2', 'node1'] });
    const readersFile = path.join(site.dir, 'secrets', 'db.readers.json');
    expect(JSON.parse(await readFile(readersFile, 'utf8'))).toEqual({ hosts: ['node1', 'node2'], groups: [] });
    expect(await site.store.getAsHost('db', node2.identity)).toBe('hunter2');

    await writeFile(readersFile, JSON.stringify({ hosts: ['node1'] }));
    // The readers file decides at once what the engine may hand out…
    await expect(site.store.get('db', 'node2')).rejects.toThrow(/may not read/);
    // …but the old file is still encrypted to node2 until it is rekeyed.
    expect(await site.store.getAsHost('db', node2.identity)).toBe('hunter2');

    expect(await site.store.rekey()).toEqual([{ name: 'db', hosts: ['node1'] }]);
    await expect(site.store.getAsHost('db', node2.identity)).rejects.toThrow(/cannot decrypt secret 'db'/);
    const cli = spawnSync('age', ['-d', '-i', node2.file, path.join(site.dir, 'secrets', 'db.age')]);
    expect(cli.status).not.toBe(0);
    expect(await site.store.getAsHost('db', node1.identity)).toBe('hunter2');
    expect(await site.store.get('db')).toBe('hunter2');
  });

  it('rekey follows group membership and changes no file when a host key is missing', async () => {
    const members: Record<string, string[]> = { web: ['node1'] };
    const site = await testSite({ groups: (group) => members[group] });
    await site.host('node1');
    const node2 = await site.host('node2');
    await site.store.set('tls', 'key material', { groups: ['web'] });
    await site.store.set('other', 'x1234');
    members.web = ['node1', 'node2'];
    expect(await site.store.rekey()).toEqual([
      { name: 'other', hosts: [] },
      { name: 'tls', hosts: ['node1', 'node2'] },
    ]);
    expect(await site.store.getAsHost('tls', node2.identity)).toBe('key material');

    members.web = ['node1', 'node2', 'node9'];
    const before = await readFile(path.join(site.dir, 'secrets', 'other.age'));
    const error = await failure(site.store.rekey());
    expect(error.message).toBe("host 'node9' has no public key");
    expect(error.hint).toBe('run `fettle secret keygen --host node9`');
    expect(await readFile(path.join(site.dir, 'secrets', 'other.age'))).toEqual(before);
  });

  it('set without readers keeps the existing readers and the file format; writes leave no temp files', async () => {
    const site = await testSite({ armor: false });
    await site.host('node1');
    await site.store.set('s', 'one', { hosts: ['node1'] });
    await site.store.set('s', 'two');
    expect(await site.store.readers('s')).toEqual({ hosts: ['node1'], groups: [] });
    const file = path.join(site.dir, 'secrets', 's.age');
    expect((await readFile(file)).toString('latin1').startsWith('age-encryption.org/v1')).toBe(true);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('644');
    expect((await readdir(path.join(site.dir, 'secrets'))).sort()).toEqual(['s.age', 's.readers.json']);
  });

  it('resolves groups from a host store with groupsOf()', async () => {
    const hosts = new MemoryHostStore({ hosts: { node1: {}, node2: {} }, groups: { db: ['node2'] } });
    const site = await testSite({ groups: groupsOf(hosts) });
    await site.host('node2');
    await site.store.set('dbpass', 'v', { groups: ['db'] });
    expect(await site.store.readerHosts('dbpass')).toEqual(['node2']);
    const unknown = await failure(site.store.set('x', 'v', { groups: ['nope'] }));
    expect(unknown.message).toBe("unknown reader group 'nope'");
  });
});

describe('errors', () => {
  it('never contain the plaintext, on any failing path', async () => {
    const plaintext = 'correct horse battery staple';
    const site = await testSite();
    const node1 = await site.host('node1');
    const node2 = await site.host('node2');
    await site.store.set('s', plaintext, { hosts: ['node1'] });

    const failures = [
      await failure(site.store.getAsHost('s', node2.identity)), // not a reader
      await failure(site.store.get('s', 'node2')), // refused for the host
      await failure(site.store.set('t', plaintext, { hosts: ['ghost'] })), // a reader without a key
    ];
    // A tampered payload: the last byte of the binary file flips.
    const binary = await testSite({ armor: false });
    await binary.store.set('s', plaintext);
    const file = path.join(binary.dir, 'secrets', 's.age');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    failures.push(await failure(binary.store.get('s')));

    for (const error of failures) {
      expect(error.code).toBe('E_SECRET');
      expect(everything(error)).not.toContain(plaintext);
      expect(everything(error)).not.toContain(node1.identity);
      expect(everything(error)).not.toContain(node2.identity);
      expect(everything(error)).not.toContain(site.controller.identity);
    }
    expect(failures[3]?.message).toMatch(/^secret 's' is truncated or damaged: /);
    expect(failures[3]?.where).toBe(file);
    expect(await readdir(path.join(site.dir, 'secrets'))).not.toContain('t.age');
  });

  it('names a missing secret and lists the others', async () => {
    const site = await testSite();
    await site.store.set('alpha', 'v');
    const error = await failure(site.store.get('beta'));
    expect(error.message).toBe("no secret named 'beta'");
    expect(error.expected).toBe('one of alpha');
    expect(error.hint).toBe('create it with `fettle secret set beta`');
  });

  it('refuses names that are not plain file names', async () => {
    const site = await testSite();
    await expect(site.store.set('../escape', 'v')).rejects.toThrow(/not a valid secret name/);
    await expect(site.store.get('a/b')).rejects.toThrow(/not a valid secret name/);
    await expect(site.store.set('x', 'v', { hosts: ['../h'] })).rejects.toThrow(/not a valid host name/);
  });

  it('loads with a placeholder controller key and says what is wrong when it is used', async () => {
    const site = await testSite();
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: 'paste the public key here', keySource: { file: site.controller.file } });
    const error = await failure(store.set('x', 'v'));
    expect(error.message).toBe("'paste the public key here' is not an age X25519 public key");
    expect(error.hint).toMatch(/fettle secret keygen/);
  });

  it('refuses a key source that is not the controller key', async () => {
    const site = await testSite();
    const other = await site.host('node1');
    await site.store.set('x', 'v');
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { file: other.file } });
    const error = await failure(store.get('x'));
    expect(error.message).toContain('not the controller key');
    expect(error.expected).toBe(`the identity of the controller public key ${site.controller.recipient}`);
    expect(everything(error)).not.toContain(other.identity);
  });

  it('refuses post-quantum host keys and groups without a resolver', async () => {
    const site = await testSite();
    await expect(site.store.setHostRecipient('pq', `age1pq1${'q'.repeat(60)}`)).rejects.toThrow(/post-quantum/);
    const error = await failure(site.store.set('x', 'v', { groups: ['web'] }));
    expect(error.hint).toBe('pass `groups: groupsOf(hosts)` to ageSecretStore()');
  });
});
