import { randomBytes } from 'node:crypto';
import { shellQuote } from '../protocols/fact.js';
import type { ExecResult } from '../protocols/transport.js';

/** One command inside a batch script. */
export interface BatchOp {
  readonly command: string;
  readonly stdin?: Buffer | undefined;
  /** A guard (the host lock's take): when it fails, no later op of the batch runs. */
  readonly guard?: boolean | undefined;
  /**
   * Ops of stage k > 0 run only when every op of the earlier stages succeeded (a
   * dependent's fix after its dependency's, in one batch). Stages never decrease.
   */
  readonly stage?: number | undefined;
}

/** One op's result; `notRun` for an op a gate kept from running (a guard or an earlier stage failed). */
export interface BatchResult extends ExecResult {
  readonly notRun?: true | undefined;
}

/**
 * Build one POSIX sh script (run by `sh -s`, the script on stdin) that runs every op
 * in turn and frames its results as it goes, in one pass: after each op, a marker line
 * with its exit code on stdout and a marker line on stderr. The marker is 128 random
 * bits the host sees only on the script's stdin, first printed by the script itself,
 * so no output (a file's content, a package description) can spoof a frame, and the
 * bytes in between are the op's exact output, binary included.
 *
 * It costs the host what the ops cost and little more: no temp folder, no framing
 * program, and no subshell for a plain op (a command of plain words that cannot touch
 * the batch's shell, see `needsSubshell`). An op with stdin is fed through a pipe from
 * `base64 -d` of a here-document.
 */
export function buildBatchScript(ops: readonly BatchOp[]): string {
  const marker = randomBytes(16).toString('hex');
  const lines = [`printf '@%s\\n' ${marker}`];
  // Gates cost nothing in a batch without guards or stages: the script stays as plain as before.
  const gated = ops.some((op) => op.guard === true || (op.stage ?? 0) > 0);
  // `h` set: no further op runs (a guard failed, or an earlier stage had a failure, noted in `f`).
  if (gated) lines.push('h=; f=');
  let stage = 0;
  for (const op of ops) {
    if (gated && op.stage !== undefined && op.stage > stage) lines.push('[ -z "$f" ] || h=1');
    stage = Math.max(stage, op.stage ?? 0);
    const run = opLines(op);
    // A guard runs first, and an unstaged op (a read after the fixes) whatever happened before it.
    if (!gated || (op.stage === undefined && op.guard !== true)) {
      lines.push(...run, `printf '\\n%s %s\\n' ${marker} $?; printf '\\n%s\\n' ${marker} >&2`);
      continue;
    }
    if (op.guard === true) lines.push(...run, 'r=$?; [ $r -eq 0 ] || h=1');
    else lines.push('if [ -z "$h" ]; then', ...run, 'r=$?; [ $r -eq 0 ] || f=1', 'else r=-; fi');
    lines.push(`printf '\\n%s %s\\n' ${marker} $r; printf '\\n%s\\n' ${marker} >&2`);
  }
  return `${lines.join('\n')}\n`;
}

/** The lines that run one op: its command, fed its stdin (or nothing). */
function opLines(op: BatchOp): string[] {
  const command = `eval ${shellQuote(op.command)}`;
  if (op.stdin && op.stdin.length > 0) {
    const end = `FETTLE_EOF_${randomBytes(8).toString('hex')}`;
    // Text (a script, a small file's lines) is its own here-document: no base64 process, no pipe.
    const text = hereDocumentText(op.stdin);
    if (text !== undefined) return [`${needsSubshell(op.command) ? `(${command})` : command} <<'${end}'`, text, end];
    return [`base64 -d 2>/dev/null <<'${end}' | ${command}`, base64Lines(op.stdin), end];
  }
  return [needsSubshell(op.command) ? `(${command}) </dev/null` : `${command} </dev/null`];
}

/**
 * Stdin as the body of a quoted here-document, which the shell passes on byte for
 * byte and ends with a newline of its own: UTF-8 text (the script is UTF-8) without a
 * NUL byte, ending with a newline (dropped here, given back by the document).
 * Undefined for anything else, which travels base64-encoded.
 */
function hereDocumentText(stdin: Buffer): string | undefined {
  if (stdin[stdin.length - 1] !== 0x0a || stdin.includes(0)) return undefined;
  const text = stdin.toString('utf8');
  return Buffer.from(text, 'utf8').equals(stdin) ? text.slice(0, -1) : undefined;
}

/** Lines of 4 KiB: `base64 -d` takes any length, and a tar stream of 100 files makes 50 strings, not 2,700. */
const BASE64_LINE = 4096;

function base64Lines(data: Buffer): string {
  const encoded = data.toString('base64');
  if (encoded.length <= BASE64_LINE) return encoded;
  const lines: string[] = [];
  for (let start = 0; start < encoded.length; start += BASE64_LINE) lines.push(encoded.slice(start, start + BASE64_LINE));
  return lines.join('\n');
}

/** Builtins and keywords that change the shell that runs them (or leave it). */
const SHELL_STATE = new Set(
  ['exit', 'return', 'exec', 'cd', 'set', 'unset', 'export', 'readonly', 'local', 'trap', 'shift', 'umask', 'ulimit', 'alias', 'unalias', 'hash', 'read', 'getopts', 'wait', 'eval', '.', 'source', 'command', 'builtin', 'break', 'continue', 'times', 'fg', 'bg', 'jobs', 'kill'],
);

/**
 * Whether an op must run in a subshell to keep the batch's own shell as it was. Only
 * plain commands run without one: words of plain characters or single-quoted strings,
 * simple commands joined by `|` or newlines, none starting with an assignment or a
 * builtin that changes the shell (`cd`, `exit`, `set`, …). Anything else (`$`,
 * redirections, `;`, `&&`, braces, loops) gets its subshell, as before.
 */
export function needsSubshell(command: string): boolean {
  const unquoted = command.replace(/'[^']*'/g, "'");
  if (!/^[\w\s\-./:,+@%=^~|']*$/.test(unquoted)) return true;
  for (const part of unquoted.split(/[|\n]/)) {
    const first = part.trim().split(/\s+/)[0] ?? '';
    if (first === '' || first.includes("'") || first.includes('=') || SHELL_STATE.has(first)) return true;
  }
  return false;
}

/**
 * Split a batch script's output back into one result per op (`notRun` for an op a
 * gate kept from running). Results stop at the first op whose frame is missing (the
 * host or the connection ended the script early).
 */
export function parseBatchOutput(output: Pick<ExecResult, 'stdout' | 'stderr'>, count: number): BatchResult[] {
  const { stdout, stderr } = output;
  const marker = batchMarker(stdout);
  if (!marker) return [];
  const headerEnd = marker.length + 1;
  const outMark = Buffer.concat([Buffer.from('\n'), marker, Buffer.from(' ')]);
  const errMark = Buffer.concat([Buffer.from('\n'), marker, Buffer.from('\n')]);
  const results: BatchResult[] = [];
  let out = headerEnd + 1;
  let err = 0;
  for (let index = 0; index < count; index++) {
    const outEnd = stdout.indexOf(outMark, out);
    const codeEnd = outEnd < 0 ? -1 : stdout.indexOf(0x0a, outEnd + outMark.length);
    const errEnd = stderr.indexOf(errMark, err);
    if (codeEnd < 0 || errEnd < 0) break;
    const codeText = stdout.toString('latin1', outEnd + outMark.length, codeEnd);
    const code = Number(codeText);
    if (codeText !== '-' && !Number.isInteger(code)) break;
    const frame = { stdout: stdout.subarray(out, outEnd), stderr: stderr.subarray(err, errEnd) };
    results.push(codeText === '-' ? { code: null, ...frame, notRun: true } : { code, ...frame });
    out = codeEnd + 1;
    err = errEnd + errMark.length;
  }
  return results;
}

/** What the batch wrote to stderr after its last complete op: why it ended early, without the frames before. */
export function unframedStderr(output: Pick<ExecResult, 'stdout' | 'stderr'>): string {
  const marker = batchMarker(output.stdout);
  if (!marker) return output.stderr.toString('utf8');
  const errMark = Buffer.concat([Buffer.from('\n'), marker, Buffer.from('\n')]);
  const last = output.stderr.lastIndexOf(errMark);
  return output.stderr.toString('utf8', last < 0 ? 0 : last + errMark.length);
}

/** The marker a batch's stdout starts with (`@` and 32 hex digits on a line), or undefined. */
function batchMarker(stdout: Buffer): Buffer | undefined {
  return stdout[0] === 0x40 && stdout.indexOf(0x0a) === 33 ? stdout.subarray(1, 33) : undefined;
}
