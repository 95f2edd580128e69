import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPair, recipientOf } from './index.js';
import { describe, expect, it } from 'vitest';
import { run, testSite } from './testing.js';

const VALUE = 'p@ss wörd\nsecond line';

describe('interoperability with the age CLI (Debian age 1.1.1)', () => {
  it('derives the same public key as age-keygen -y', async () => {
    const site = await testSite();
    expect(await recipientOf(site.controller.identity)).toBe(site.controller.recipient);
  });

  it.each([
    ['binary', []],
    ['armored', ['-a']],
  ] as const)('reads a %s file written by `age -r`', async (_kind, flags) => {
    const site = await testSite();
    const file = path.join(site.dir, 'secrets', 'cli.age');
    run('mkdir', ['-p', path.dirname(file)]);
    run('age', [...flags, '-r', site.controller.recipient, '-o', file], VALUE);
    expect(await site.store.list()).toEqual(['cli']);
    expect(await site.store.get('cli')).toBe(VALUE);
  });

  it('reads a CLI file encrypted to a host, as that host', async () => {
    const site = await testSite();
    const host = await site.host('node1');
    const file = path.join(site.dir, 'secrets', 'shared.age');
    run('mkdir', ['-p', path.dirname(file)]);
    run('age', ['-a', '-r', site.controller.recipient, '-r', host.recipient, '-o', file], VALUE);
    expect(await site.store.getAsHost('shared', host.identity)).toBe(VALUE);
    expect(await site.store.getAsHost('shared', { file: host.file })).toBe(VALUE);
  });

  it.each([
    ['armored', true],
    ['binary', false],
  ] as const)('writes %s files that `age -d` decrypts, with the controller and the reader host keys', async (kind, armor) => {
    const site = await testSite({ armor });
    const host = await site.host('node1');
    await site.store.set('db-password', VALUE, { hosts: ['node1'] });
    const file = path.join(site.dir, 'secrets', 'db-password.age');
    const bytes = await readFile(file);
    expect(bytes.toString('latin1').startsWith('-----BEGIN AGE ENCRYPTED FILE-----')).toBe(kind === 'armored');
    expect(run('age', ['-d', '-i', site.controller.file, file]).toString()).toBe(VALUE);
    expect(run('age', ['-d', '-i', host.file, file]).toString()).toBe(VALUE);
  });

  it('writes identities that age -d accepts (generated X25519, never post-quantum)', async () => {
    const site = await testSite();
    const pair = await generateKeyPair();
    expect(pair.identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(pair.recipient).toMatch(/^age1[0-9a-z]{58}$/);
    const keyFile = path.join(site.dir, 'js.key');
    await writeFile(keyFile, `${pair.identity}\n`, { mode: 0o600 });
    expect(run('age-keygen', ['-y', keyFile]).toString().trim()).toBe(pair.recipient);
    await site.store.setHostRecipient('js', pair.recipient);
    await site.store.set('for-js', VALUE, { hosts: ['js'] });
    expect(run('age', ['-d', '-i', keyFile, path.join(site.dir, 'secrets', 'for-js.age')]).toString()).toBe(VALUE);
  });
});
