import { writeFileAtomic } from '@fettle/core';

/** Secrets, readers and identity files: atomic, exact mode, folder created when missing. */
export function atomicWrite(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  return writeFileAtomic(file, data, { mode, createFolder: true });
}
