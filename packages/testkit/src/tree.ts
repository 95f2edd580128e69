import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** One entry of a tree as `snapshotTree` records it. */
export interface TreeEntry {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  /** Permission bits, octal (`0644`). */
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
  /** A file's content (base64), a symlink's target; empty otherwise. */
  readonly content: string;
  /** Modification and change times: a command that rewrote, chmod-ed or chown-ed an entry moves them. */
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/**
 * Everything a command could change about a folder and what is under it, keyed by path
 * relative to it (`.` for the folder itself). Sandbox tests take one before and one after a
 * run and expect them equal for every tree the run must not touch.
 */
export function snapshotTree(dir: string): Record<string, TreeEntry> {
  const entries: Record<string, TreeEntry> = {};
  const visit = (relative: string): void => {
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    const type = stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
    const content = type === 'file' ? readFileSync(full).toString('base64') : type === 'symlink' ? readlinkSync(full) : '';
    entries[relative] = { type, mode: (stat.mode & 0o7777).toString(8).padStart(4, '0'), uid: stat.uid, gid: stat.gid, content, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs };
    if (type === 'directory') for (const name of readdirSync(full).sort()) visit(path.join(relative, name));
  };
  visit('.');
  return entries;
}
