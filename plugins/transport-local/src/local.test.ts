import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localTransport } from './index.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

async function connect() {
  const siteDir = mkdtempSync(path.join(tmpdir(), 'fettle-local-'));
  made.push(siteDir);
  const host = { name: 'h', transport: 'local', transportOptions: {}, groups: [], roles: [], vars: {}, readonly: false };
  const transport = await localTransport.connect(host, localTransport.options.parse({ root: 'sandbox' }), { siteDir, warn: () => undefined });
  return { siteDir, transport };
}

describe('local transport', () => {
  it('resolves root against the site and creates it', async () => {
    const { siteDir, transport } = await connect();
    expect(transport.root).toBe(path.join(siteDir, 'sandbox'));
    expect(statSync(transport.root).isDirectory()).toBe(true);
  });

  it('runs commands with stdin, exit codes and stderr', async () => {
    const { transport } = await connect();
    const result = await transport.exec('cat; echo oops >&2; exit 4', { stdin: 'hello' });
    expect(result).toMatchObject({ code: 4 });
    expect(result.stdout.toString()).toBe('hello');
    expect(result.stderr.toString()).toBe('oops\n');
  });

  it('writes atomically with the exact mode, reads and stats', async () => {
    const { transport } = await connect();
    const file = path.join(transport.root, 'f.txt');
    await transport.writeFile(file, 'one', { mode: '0640', owner: 'root', group: 'root' });
    await transport.writeFile(file, 'two', { mode: '0600' });
    expect((await transport.readFile(file))?.toString()).toBe('two');
    expect(await transport.stat(file)).toEqual({ type: 'file', size: 3, mode: '0600' });
    expect(await transport.readFile(path.join(transport.root, 'missing'))).toBeNull();
    expect(await transport.stat(path.join(transport.root, 'missing'))).toBeNull();
    expect(readdirSync(transport.root)).toEqual(['f.txt']);
  });

  it('refuses an unknown owner and leaves no temp file', async () => {
    const { transport } = await connect();
    await expect(transport.writeFile(path.join(transport.root, 'g.txt'), 'x', { owner: 'fettle-no-such-user-x' })).rejects.toThrow(/unknown user 'fettle-no-such-user-x'/);
    expect(readdirSync(transport.root)).toEqual([]);
  });
});
