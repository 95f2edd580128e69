import { defineFact, sh } from '@fettle/core';

/** What one path is on the host; null when it does not exist. */
export interface FileStat {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  /** Octal mode such as `0644`. */
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly size: number;
  /** sha256 of a regular file's content; null for anything else. */
  readonly sha256: string | null;
  /** A symlink's target; null for anything else. */
  readonly target: string | null;
}

const TYPES: Record<string, FileStat['type']> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'directory',
  'symbolic link': 'symlink',
};

/**
 * Stat and sha256 of any number of paths in one command: one `stat` for all paths,
 * one `sha256sum` for all regular files, NUL-separated so any path name is safe.
 */
export const fileStat = defineFact<string, FileStat | null>({
  name: 'files.stat',
  key: (path) => path,
  command: (paths, env) =>
    sh`set -- ${paths.map((p) => env.hostPath(p))}
LC_ALL=C QUOTING_STYLE=literal stat --printf '%n\\0%F\\0%a\\0%U\\0%G\\0%s\\0%N\\0' -- "$@" 2>/dev/null
printf 'SHA\\0'
for p do if [ -f "$p" ] && [ ! -L "$p" ]; then printf '%s\\0' "$p"; fi; done | xargs -0 -r sha256sum -z --
exit 0`,
  parse(stdout, paths, env) {
    const fields = stdout.split('\0');
    const byPath = new Map<string, { type: FileStat['type']; mode: string; owner: string; group: string; size: number; target: string | null }>();
    let index = 0;
    while (index < fields.length && fields[index] !== 'SHA') {
      const [name, kind, mode, owner, group, size, quoted] = fields.slice(index, index + 7);
      if (quoted === undefined) throw new Error('files.stat: truncated stat output');
      const type = TYPES[kind as string] ?? 'other';
      const target = type === 'symlink' ? (quoted).slice((name as string).length + 4) : null;
      byPath.set(name as string, { type, mode: (mode as string).padStart(4, '0'), owner: owner as string, group: group as string, size: Number(size), target });
      index += 7;
    }
    const hashes = new Map<string, string>();
    for (const entry of fields.slice(index + 1)) {
      if (entry.length > 66) hashes.set(entry.slice(66), entry.slice(0, 64));
    }
    return paths.map((p) => {
      const real = env.hostPath(p).path;
      const stat = byPath.get(real);
      return stat ? { ...stat, sha256: hashes.get(real) ?? null } : null;
    });
  },
});
