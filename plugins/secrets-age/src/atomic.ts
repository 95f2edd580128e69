import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fettle/core';

/** Secrets, readers and identity files: atomic, exact mode, folder created when missing. */
export function atomicWrite(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  return writeFileAtomic(file, data, { mode, createFolder: true });
}

/** A file's text, or undefined when it does not exist (any other error is thrown). */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
