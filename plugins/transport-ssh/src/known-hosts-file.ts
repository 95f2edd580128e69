import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@fettle/core';
import { checkHostKey, formatKnownHostLine, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export type AppendResult =
  | { readonly kind: 'added'; readonly line: number }
  | { readonly kind: 'present' }
  | { readonly kind: 'changed'; readonly expected: readonly KnownHostEntry[] };

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 15_000;

/**
 * Record a host key (accept-new). Parallel connections, in this process or others,
 * serialise on `<file>.lock` (O_EXCL); under the lock the file is re-read, so a key
 * another connection recorded meanwhile is seen, and the new content is written to a
 * temp file and renamed over the old one, so no reader ever sees half a line.
 */
export async function appendKnownHost(file: string, name: string, key: Buffer, options: { hash?: boolean } = {}): Promise<AppendResult> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const release = await lock(`${file}.lock`);
  try {
    const text = (await readText(file)) ?? '';
    const verdict = checkHostKey(parseKnownHosts(text, file).entries, name, key);
    if (verdict.kind === 'known') return { kind: 'present' };
    if (verdict.kind === 'changed') return { kind: 'changed', expected: verdict.expected };
    if (verdict.kind === 'revoked') return { kind: 'changed', expected: [verdict.entry] };
    const prefix = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    const next = `${prefix}${formatKnownHostLine(name, key, options)}\n`;
    const mode = await stat(file).then((s) => s.mode & 0o777, () => 0o644);
    await writeFileAtomic(file, next, { mode });
    return { kind: 'added', line: next.split('\n').length - 1 };
  } finally {
    await release();
  }
}

async function lock(lockPath: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(lockPath).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // A lock left by a crashed process would block every later accept-new: take it over when old.
    const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > LOCK_STALE_MS) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockPath}; remove it if no fettle or ssh is running`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, 5 * 2 ** Math.min(attempt, 5)) + Math.random() * 10));
  }
}
