import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tarArchive, tarPayload } from './tar.js';

it('writes an archive the system tar extracts: long names through pax, binary data, modes, whole records', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fettle-tar-'));
  try {
    const long = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(120)}.conf`;
    const binary = Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 256));
    const { stdin: archive } = tarPayload(
      tarArchive([
        { name: 'short.txt', data: Buffer.from('hello\n'), mode: 0o640 },
        { name: long, data: binary, mode: 0o600 },
        { name: 'empty', data: new Uint8Array(0), mode: 0o644 },
      ]),
    );
    if (!Buffer.isBuffer(archive)) throw new Error('parts all in memory make one buffer');
    expect(archive.length % 10240).toBe(0);
    const listed = spawnSync('tar', ['-t', '-f', '-'], { input: archive, encoding: 'utf8' });
    expect(listed.stdout.trim().split('\n')).toEqual(['short.txt', long, 'empty']);
    spawnSync('mkdir', ['-p', path.join(dir, path.dirname(long))]);
    const extracted = spawnSync('tar', ['-x', '-p', '-f', '-', '-C', dir], { input: archive });
    expect(extracted.status, extracted.stderr.toString()).toBe(0);
    expect(readFileSync(path.join(dir, 'short.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(path.join(dir, long)).equals(binary)).toBe(true);
    expect(statSync(path.join(dir, 'short.txt')).mode & 0o777).toBe(0o640);
    expect(statSync(path.join(dir, 'empty')).size).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
