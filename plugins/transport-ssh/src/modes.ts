import { FettleError, type RemoteStat } from '@fettle/core';

/** New files get 0644 unless the item says otherwise (the same as transport-local). */
export const DEFAULT_MODE = 0o644;

/** `'0644'`, `'644'`, `'4755'` → number; undefined → the default. */
export function parseMode(mode: string | undefined, hostName: string): number {
  if (mode === undefined) return DEFAULT_MODE;
  if (!/^[0-7]{3,4}$/.test(mode)) {
    throw new FettleError('E_ATTRIBUTE', `invalid file mode ${JSON.stringify(mode)}`, { where: `host ${hostName}`, expected: 'an octal mode such as 0644' });
  }
  return Number.parseInt(mode, 8);
}

export function typeOfMode(mode: number): RemoteStat['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}
