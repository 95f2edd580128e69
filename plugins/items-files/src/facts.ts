import { defineFact, rawShell, sh, shellQuote, type FactEnv, type Shell } from '@fettle/core';

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
    sh`${statArguments(paths, env).script}
LC_ALL=C QUOTING_STYLE=literal stat --printf '%n\\0%F\\0%a\\0%U\\0%G\\0%s\\0%N\\0' -- "$@" 2>/dev/null
printf 'SHA\\0'
for p do if [ -f "$p" ] && [ ! -L "$p" ]; then printf '%s\\0' "$p"; fi; done | xargs -0 -r sha256sum -z --
exit 0`,
  parse(stdout, paths, env) {
    const fields = stdout.split('\0');
    const byPath = new Map<string, { -readonly [K in keyof FileStat]: FileStat[K] }>();
    let index = 0;
    for (; index < fields.length && fields[index] !== 'SHA'; index += 7) {
      if (index + 6 >= fields.length) throw new Error('files.stat: truncated stat output');
      const name = fields[index] as string;
      const type = TYPES[fields[index + 1] as string] ?? 'other';
      const target = type === 'symlink' ? (fields[index + 6] as string).slice(name.length + 4) : null;
      const mode = (fields[index + 2] as string).padStart(4, '0');
      byPath.set(name, { type, mode, owner: fields[index + 3] as string, group: fields[index + 4] as string, size: Number(fields[index + 5]), sha256: null, target });
    }
    // `sha256sum -z` lines: 64 hex digits, two spaces, the path.
    for (index++; index < fields.length; index++) {
      const entry = fields[index] as string;
      const stat = entry.length > 66 ? byPath.get(entry.slice(66)) : undefined;
      if (stat) stat.sha256 = entry.slice(0, 64);
    }
    const names = statArguments(paths, env).names;
    return names.map((name) => byPath.get(name) ?? null);
  },
});

interface StatArguments {
  /** Sets `"$@"` to the paths (and may change folder: the fact runs in its own shell). */
  readonly script: Shell;
  /** What stat and sha256sum print for each path, in the order of the paths. */
  readonly names: readonly string[];
}

/** The arguments made for a list of paths, for its parse (the engine hands both the same list). */
const made = new WeakMap<readonly string[], StatArguments>();

/**
 * `set -- PATH…` for the paths on the host. When they share a folder, the command
 * names it once (`d=FOLDER`), goes into it, and names each path under it relative to
 * it: stat and sha256sum then print `NAME`, not the whole path, three times per file
 * (a hundred files under a long root were half of a verify's bytes). The folder itself
 * is `"$d"`. If the folder cannot be entered, nothing under it can be stat'ed either:
 * only the folder is asked for.
 */
function statArguments(paths: readonly string[], env: FactEnv): StatArguments {
  let args = made.get(paths);
  if (args === undefined) {
    args = relativeArguments(paths, env) ?? wholePaths(paths, env);
    made.set(paths, args);
  }
  return args;
}

function wholePaths(paths: readonly string[], env: FactEnv): StatArguments {
  const mapped = paths.map((p) => env.hostPath(p));
  return { script: sh`set -- ${mapped}`, names: mapped.map((hostPath) => hostPath.path) };
}

/** The shared-folder form, or undefined when the paths share no folder (or the root maps them otherwise). */
function relativeArguments(paths: readonly string[], env: FactEnv): StatArguments | undefined {
  const folder = paths.length > 2 ? sharedFolder(paths) : undefined;
  if (folder === undefined) return undefined;
  const base = env.hostPath(folder);
  const words: string[] = [];
  const names: string[] = [];
  let hasFolder = false;
  for (const p of paths) {
    const real = env.hostPath(p).path;
    if (p === folder) {
      if (real !== base.path) return undefined;
      hasFolder = true;
      words.push('"$d"');
      names.push(base.path);
      continue;
    }
    const name = p.slice(folder.length + 1);
    // Only where the root maps the folder and the path alike (it does for every normalised path).
    if (real.length !== base.path.length + 1 + name.length || !real.startsWith(base.path) || !real.endsWith(name)) return undefined;
    words.push(shellQuote(name));
    names.push(name);
  }
  // The folder is a mapped HostPath; the names after it are relative, quoted one by one.
  const script = sh`d=${base}
if cd -- "$d" 2>/dev/null; then set -- ${rawShell(words.join(' '))}; else set --${rawShell(hasFolder ? ' "$d"' : '')}; fi`;
  return { script, names };
}

/** The deepest folder (other than `/`) that is, or holds, every one of these absolute paths; undefined when none. */
function sharedFolder(paths: readonly string[]): string | undefined {
  let folder = paths[0] ?? '';
  for (const p of paths) {
    while (folder.length > 1 && p !== folder && !(p.length > folder.length && p.charCodeAt(folder.length) === 0x2f && p.startsWith(folder))) {
      folder = folder.slice(0, folder.lastIndexOf('/'));
    }
  }
  return folder.length > 1 && folder.startsWith('/') ? folder : undefined;
}
