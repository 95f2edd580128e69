import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { localIdentity } from './tokens.js';
import { patternList, wildcardMatch } from './patterns.js';
import { finishSettings, type ResolveRequest, type SshValues } from './ssh-values.js';

/**
 * The fallback ssh_config reader, used only where no `ssh` binary exists (else
 * `ssh -G` answers). It follows OpenSSH's own rules, checked against `ssh -G` by
 * table-driven tests: the first value obtained wins; `Host` patterns match the name
 * as typed, case-sensitively; `Match host/originalhost` match case-insensitively,
 * with comma lists and `!`; `Include` is spliced in place, applies only where its
 * block is active, and resolves relative names under ~/.ssh (user files) or
 * /etc/ssh (the system file).
 */

/** One config file to read, and whether it is the system-wide one (for relative Includes). */
export interface ConfigFile {
  readonly path: string;
  readonly system: boolean;
  /** A file named with -F must exist; the default ones may be missing. */
  readonly required?: boolean;
}

/** Keywords kept; everything else in a config is read (for syntax) and ignored. */
const SINGLE = new Set([
  'hostname',
  'port',
  'user',
  'identitiesonly',
  'identityagent',
  'stricthostkeychecking',
  'hostkeyalias',
  'connecttimeout',
  'serveraliveinterval',
  'serveralivecountmax',
  'hostkeyalgorithms',
  'hashknownhosts',
]);
const LISTS = new Set(['userknownhostsfile', 'globalknownhostsfile']);
const REPEATED = new Set(['identityfile', 'certificatefile']);

/** Options as obtained so far: first value wins, repeated keywords accumulate. */
interface State {
  readonly values: Map<string, string[]>;
  /** Set when a `Match exec` was met: the parser never runs commands. */
  readonly notes: string[];
  wantFinalPass: boolean;
}

interface Pass {
  readonly request: ResolveRequest;
  readonly state: State;
  readonly final: boolean;
}

/** Resolve one host through config files (in order), as `ssh -G` would print it. */
export async function resolveWithParser(request: ResolveRequest, files: readonly ConfigFile[]): Promise<SshValues> {
  const state: State = { values: new Map(), notes: [], wantFinalPass: false };
  // Command-line values (-l, -p, -J) are obtained before any file, so they win.
  if (request.user !== undefined) state.values.set('user', [request.user]);
  if (request.port !== undefined) state.values.set('port', [String(request.port)]);
  if (request.proxyJump !== undefined) state.values.set('proxyjump', [request.proxyJump]);
  for (const file of files) await readConfig(file, { request, state, final: false }, 0, file.required === true);
  if (state.wantFinalPass) {
    for (const file of files) await readConfig(file, { request, state, final: true }, 0, file.required === true);
  }
  return finishSettings(request.host, state.values, state.notes);
}

async function readConfig(file: ConfigFile, pass: Pass, depth: number, required: boolean): Promise<void> {
  if (depth > 16) throw new Error(`${file.path}: Include nested more than 16 levels deep`);
  let text: string;
  try {
    text = await readFile(file.path, 'utf8');
  } catch (error) {
    if (!required) return;
    throw new Error(`Can't open user config file ${file.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  let active = true;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const parsed = parseLine(lines[index] ?? '', `${file.path}:${index + 1}`);
    if (!parsed) continue;
    const { keyword, args, rest } = parsed;
    if (keyword === 'host') active = hostMatches(args, pass.request.host);
    else if (keyword === 'match') active = matchMatches(args, pass, `${file.path}:${index + 1}`);
    else if (keyword === 'include') {
      if (!active) continue; // OpenSSH reads it with every Host/Match inside never matching: the same as skipping
      for (const pattern of args) {
        for (const included of await includeFiles(pattern, file.system)) await readConfig({ path: included, system: file.system }, pass, depth + 1, false);
      }
    } else if (active) obtain(pass.state.values, keyword, args, rest);
  }
}

/** Keyword, arguments (quotes and escapes removed) and the raw rest of the line (for ProxyCommand). */
export function parseLine(line: string, where: string): { keyword: string; args: string[]; rest: string } | null {
  const match = /^\s*([A-Za-z0-9]+)(?:\s*=\s*|\s+|$)(.*)$/.exec(line);
  if (!match?.[1] || line.trimStart().startsWith('#')) {
    if (line.trim() !== '' && !line.trimStart().startsWith('#')) throw new Error(`${where}: cannot read this line`);
    return null;
  }
  const rest = (match[2] ?? '').trim();
  return { keyword: match[1].toLowerCase(), args: splitArgs(rest, where), rest };
}

/** OpenSSH's argv_split: whitespace-separated, "…" and '…' quotes, backslash escapes, `#` starts a comment. */
export function splitArgs(text: string, where = 'ssh_config'): string[] {
  const args: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (index < text.length && /\s/.test(text[index] ?? '')) index++;
    if (index >= text.length || text[index] === '#') break;
    let arg = '';
    let quote: string | null = null;
    for (; index < text.length; index++) {
      const char = text[index] ?? '';
      if (quote === null && /\s/.test(char)) break;
      if (char === '\\' && index + 1 < text.length && /[\\"' ]/.test(text[index + 1] ?? '')) {
        arg += text[++index];
      } else if (quote !== null && char === quote) quote = null;
      else if (quote === null && (char === '"' || char === "'")) quote = char;
      else arg += char;
    }
    if (quote !== null) throw new Error(`${where}: unterminated quote`);
    args.push(arg);
  }
  return args;
}

function obtain(values: Map<string, string[]>, keyword: string, args: string[], rest: string): void {
  const first = args[0];
  if (first === undefined) return;
  if (SINGLE.has(keyword)) {
    if (!values.has(keyword)) values.set(keyword, [first]);
  } else if (LISTS.has(keyword)) {
    if (!values.has(keyword)) values.set(keyword, args);
  } else if (REPEATED.has(keyword)) {
    const list = values.get(keyword) ?? [];
    if (!list.includes(first)) list.push(first);
    values.set(keyword, list);
  } else if (keyword === 'proxyjump' || keyword === 'proxycommand') {
    // One of the two, whichever comes first: each blocks the other, except when it is `none`.
    const other = values.get(keyword === 'proxyjump' ? 'proxycommand' : 'proxyjump')?.[0];
    if (!values.has(keyword) && (other === undefined || other === 'none')) values.set(keyword, [keyword === 'proxycommand' ? rest : first]);
  }
}

/** `Host` lines: patterns as written against the name as typed (case-sensitive); a matching `!pattern` vetoes. */
function hostMatches(patterns: readonly string[], host: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, host)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function matchMatches(args: readonly string[], pass: Pass, where: string): boolean {
  const { state } = pass;
  const words = args.flatMap((arg) => {
    const equals = /^(!?[A-Za-z]+)=(.*)$/.exec(arg);
    return equals ? [equals[1] ?? '', equals[2] ?? ''] : [arg];
  });
  let result = true;
  for (let index = 0; index < words.length; index++) {
    let criterion = (words[index] ?? '').toLowerCase();
    const negated = criterion.startsWith('!');
    if (negated) criterion = criterion.slice(1);
    let ok: boolean;
    if (criterion === 'all') ok = true;
    else if (criterion === 'canonical' || criterion === 'final') {
      state.wantFinalPass = true;
      ok = pass.final;
    } else {
      const value = words[++index];
      if (value === undefined) throw new Error(`${where}: Match ${criterion} needs an argument`);
      ok = criterionMatches(criterion, value, pass, where);
    }
    if (negated) ok = !ok;
    if (!ok) result = false;
  }
  return result;
}

function criterionMatches(criterion: string, value: string, pass: Pass, where: string): boolean {
  const { request, state } = pass;
  switch (criterion) {
    case 'host': {
      const configured = state.values.get('hostname')?.[0];
      const current = configured === undefined ? request.host : configured.replace(/%%|%h/g, (token) => (token === '%h' ? request.host : '%'));
      return patternList(value, current.toLowerCase(), true);
    }
    case 'originalhost':
      return patternList(value, request.host.toLowerCase(), true);
    case 'user':
      return patternList(value, state.values.get('user')?.[0] ?? localIdentity().user, false);
    case 'localuser':
      return patternList(value, localIdentity().user, false);
    case 'exec':
      if (!state.notes.some((note) => note.startsWith('Match exec'))) {
        state.notes.push(`Match exec (${where}) is not run by fettle's own ssh_config reader (no ssh binary found); treated as not matching`);
      }
      return false;
    case 'localnetwork':
    case 'tagged':
      return false;
    default:
      throw new Error(`${where}: unsupported Match criterion '${criterion}'`);
  }
}

/** Files an Include names: `~` expanded, relative names under ~/.ssh (or /etc/ssh), globs in any component, sorted. */
async function includeFiles(pattern: string, system: boolean): Promise<string[]> {
  const home = localIdentity().home;
  let expanded = pattern === '~' ? home : pattern.startsWith('~/') ? path.join(home, pattern.slice(2)) : pattern;
  if (!path.isAbsolute(expanded)) expanded = path.join(system ? '/etc/ssh' : path.join(home, '.ssh'), expanded);
  const parts = expanded.split('/').filter((part) => part !== '');
  let candidates = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of candidates) {
      if (!/[*?]/.test(part)) {
        next.push(path.join(dir, part));
        continue;
      }
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.sort()) {
        if (!name.startsWith('.') && wildcardMatch(part, name)) next.push(path.join(dir, name));
      }
    }
    candidates = next;
  }
  return candidates;
}
