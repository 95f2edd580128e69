// A failed write in fettle's words: the OS reason, a hint, and the mode a write asks for.
import path from 'node:path';
import { FettleError } from '@fettle/core';

/** OS reasons in the words fettle uses everywhere (`no space left on device`, …), else the program's own. */
export function osReason(output: string, target: string): { reason: string; hint?: string | undefined } {
  const dir = path.posix.dirname(target);
  const lines = output.split(/(?:\n|(?=\b(?:tar|mkdir|chown|chmod|mv|sync): ))/).map((line) => line.trim()).filter(Boolean);
  const line = lines.find((text) => text.includes(path.posix.basename(target))) ?? lines[0] ?? output.trim();
  const user = /invalid user: '([^':]*)/.exec(line);
  if (user) return { reason: `no user named '${user[1] ?? ''}'` };
  const group = /invalid group: '[^':]*:?([^']*)'/.exec(line);
  if (group) return { reason: `no group named '${group[1] ?? ''}'` };
  // A short write (tar) with the file system's answer appended by the script.
  if (/No space left on device/.test(line) || (/Wrote only/.test(line) && /No space left on device/.test(output))) return { reason: 'no space left on device' };
  if (/Read-only file system/.test(line)) return { reason: 'read-only file system' };
  if (/Permission denied|Operation not permitted/.test(line)) return { reason: 'permission denied' };
  if (/^mkdir: .*No such file or directory/.test(line)) return { reason: 'missing parent directory', hint: `create ${dir} first (a directory item)` };
  if (/^mkdir: .*Not a directory/.test(line)) return { reason: `${dir} is not a directory` };
  return { reason: line.replace(/^(?:tar|mkdir|chown|chmod|mv|sync): /, '') };
}

export function writeError(target: string, output: string, hostName: string, user: string | undefined): FettleError {
  const { reason, hint } = osReason(output, target);
  let why = hint;
  if (reason === 'permission denied') {
    why =
      user === 'root'
        ? 'even root may not change it: is it immutable (lsattr; chattr -i) or on a read-only mount?'
        : `files are written as ${user ?? 'the login user'}; use become: 'sudo' for files it cannot write`;
  }
  return new FettleError('E_TRANSPORT', `cannot write ${target}: ${reason}`, { where: `host ${hostName}`, hint: why });
}

/** `'0644'`, `'644'`, `'4755'` → `'0644'` …; new files get 0644 unless the item says otherwise. */
export function parseMode(mode: string | undefined, hostName: string): string {
  if (mode === undefined) return '0644';
  if (!/^[0-7]{3,4}$/.test(mode)) {
    throw new FettleError('E_ATTRIBUTE', `invalid file mode ${JSON.stringify(mode)}`, { where: `host ${hostName}`, expected: 'an octal mode such as 0644' });
  }
  return mode.padStart(4, '0');
}

