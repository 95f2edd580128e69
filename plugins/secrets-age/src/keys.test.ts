import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateHybridIdentity } from 'age-encryption';
import { describe, expect, it, vi } from 'vitest';
import { ageSecretStore, generateKeyPair, writeIdentityFile } from './index.js';
import { failure, run, testSite } from './testing.js';


describe('key sources', () => {
  it('refuses a key file readable by others, with the exact chmod in the hint, then accepts it once fixed', async () => {
    const site = await testSite();
    await site.store.set('s', 'value');
    await chmod(site.controller.file, 0o644);
    const error = await failure(site.store.get('s'));
    expect(error.code).toBe('E_SECRET');
    expect(error.message).toBe("cannot decrypt secret 's': key file is open to other users (mode 0644)");
    expect(error.where).toBe(site.controller.file);
    expect(error.hint).toBe(`chmod 600 ${site.controller.file}`);
    await chmod(site.controller.file, 0o640);
    await expect(site.store.get('s')).rejects.toThrow(/mode 0640/);
    await chmod(site.controller.file, 0o600);
    expect(await site.store.get('s')).toBe('value');
  });

  it('reads the key from a command (cat keyfile)', async () => {
    const site = await testSite();
    await site.store.set('s', 'from a command');
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { command: `cat '${site.controller.file}'` } });
    expect(await store.get('s')).toBe('from a command');
  });

  it('resolves a relative key file against the site folder', async () => {
    const site = await testSite();
    await site.store.set('s', 'v');
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { file: 'controller.key' } });
    expect(await store.get('s')).toBe('v');
  });

  it('reports a failing or silent key command without echoing its output', async () => {
    const site = await testSite();
    await site.store.set('s', 'v');
    const make = (command: string) => ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { command } });
    const failed = await failure(make('exit 3').get('s'));
    expect(failed.message).toBe("cannot decrypt secret 's': the key command exited with code 3");
    expect(failed.where).toBe('key command `exit 3`');

    const garbage = await failure(make("printf 'sek%s-not-a-key' rit").get('s'));
    expect(garbage.message).toBe("cannot decrypt secret 's': no age identity found");
    expect(JSON.stringify({ m: garbage.message, w: garbage.where, e: garbage.expected })).not.toContain('sekrit');

    const malformed = await failure(make(`printf 'x\\nAGE-SECRET-KEY-1BRO%s\\n' KEN`).get('s'));
    expect(malformed.message).toBe("cannot decrypt secret 's': malformed age identity");
    expect(malformed.where).toMatch(/line 2$/);
    expect(`${malformed.message} ${malformed.where}`).not.toContain('BROKEN');

    const slow = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { command: 'sleep 5' }, keyCommandTimeoutMs: 200 });
    await expect(slow.get('s')).rejects.toThrow(/stopped by SIGTERM/);
  });

  it('names a missing key file and how to make one', async () => {
    const site = await testSite();
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { file: 'nope.key' } });
    await site.store.set('s', 'v');
    const error = await failure(store.get('s'));
    expect(error.where).toBe(path.join(site.dir, 'nope.key'));
    expect(error.hint).toMatch(/fettle secret keygen --out FILE/);
  });

  it('refuses post-quantum identities', async () => {
    const site = await testSite();
    await site.store.set('s', 'v');
    const pqFile = path.join(site.dir, 'pq.key');
    await writeFile(pqFile, `${await generateHybridIdentity()}\n`, { mode: 0o600 });
    const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient, keySource: { file: pqFile } });
    await expect(store.get('s')).rejects.toThrow(/post-quantum/);
  });

  it('has no controller key source: reads the per-user key file outside the site', async () => {
    const site = await testSite();
    await site.store.set('s', 'v');
    const config = path.join(site.dir, '..', `${path.basename(site.dir)}-xdg`);
    vi.stubEnv('XDG_CONFIG_HOME', config);
    try {
      const store = ageSecretStore({ dir: site.dir, controllerRecipient: site.controller.recipient });
      const file = path.join(config, 'fettle', 'controller.key');
      expect(store.keySource).toEqual({ file });
      await expect(store.get('s')).rejects.toThrow(`cannot decrypt secret 's': cannot read the key file`);
      await writeIdentityFile(file, site.controller);
      expect(await store.get('s')).toBe('v');
    } finally {
      vi.unstubAllEnvs();
      await rm(config, { recursive: true, force: true });
    }
  });
});

describe('identity files', () => {
  it('are written like age-keygen -o, mode 0600, never over an existing key unless forced', async () => {
    const site = await testSite();
    const file = path.join(site.dir, 'new', 'controller.key');
    const pair = await generateKeyPair();
    await writeIdentityFile(file, pair);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(new RegExp(`^# created: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n# public key: ${pair.recipient}\\n${pair.identity}\\n$`));
    expect(run('age-keygen', ['-y', file]).toString().trim()).toBe(pair.recipient);

    const again = await failure(writeIdentityFile(file, await generateKeyPair()));
    expect(again.message).toBe('the key file already exists');
    expect(await readFile(file, 'utf8')).toBe(text);
    const other = await generateKeyPair();
    await writeIdentityFile(file, other, { force: true });
    expect(await readFile(file, 'utf8')).toContain(other.identity);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
  });
});
