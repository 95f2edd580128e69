import { randomBytes } from 'node:crypto';
import { shellQuote } from '../protocols/fact.js';
import type { ExecResult } from '../protocols/transport.js';

/** One command inside a batch script. */
export interface BatchOp {
  readonly command: string;
  readonly stdin?: Buffer | undefined;
}

/**
 * Build one POSIX sh script that runs every op in turn, each in a subshell with its
 * stdout and stderr in files, then reports once for all of them: a line of exit
 * codes, one `wc -c` of every output file, a `@@` line, and one `cat` of the files.
 * One subshell per op and three programs per batch, however many ops: the framing
 * costs the host almost nothing. The header comes from the script, never from a
 * command, and byte lengths delimit the outputs, so no output can spoof a frame.
 */
export function buildBatchScript(ops: readonly BatchOp[]): string {
  const lines = ['T=$(mktemp -d "${TMPDIR:-/tmp}/fettle.XXXXXX") || exit 97', `trap 'rm -rf "$T"' EXIT`, 'c='];
  ops.forEach((op, index) => {
    let input = '/dev/null';
    if (op.stdin && op.stdin.length > 0) {
      const end = `FETTLE_EOF_${randomBytes(8).toString('hex')}`;
      const encoded = op.stdin.toString('base64').replace(/.{1,76}/g, '$&\n');
      lines.push(`base64 -d >"$T/i${index}" <<'${end}'`, encoded.trimEnd(), end);
      input = `"$T/i${index}"`;
    }
    lines.push(`(eval ${shellQuote(op.command)}) <${input} >"$T/o${index}" 2>"$T/e${index}"; c="$c $?"`);
  });
  const files = ops.map((_op, index) => `o${index} e${index}`).join(' ');
  lines.push(`printf '@%s\\n' "$c"`, `cd "$T" && wc -c ${files} && printf '@@\\n' && cat ${files}`);
  return `${lines.join('\n')}\n`;
}

/** Split a batch script's output back into one result per op. */
export function parseBatchOutput(output: Buffer, count: number): ExecResult[] {
  const marker = output.indexOf('\n@@\n');
  if (output[0] !== 0x40 || marker < 0) return [];
  const header = output.subarray(1, marker).toString('latin1').split('\n');
  const codes = (header[0] ?? '').trim().split(/\s+/).filter((code) => code !== '').map(Number);
  const sizes = new Map<string, number>();
  for (const line of header.slice(1)) {
    const match = /^\s*(\d+) ([oe]\d+)$/.exec(line);
    if (match) sizes.set(match[2] as string, Number(match[1]));
  }
  const results: ExecResult[] = [];
  let position = marker + 4;
  for (let index = 0; index < count; index++) {
    const outLength = sizes.get(`o${index}`);
    const errLength = sizes.get(`e${index}`);
    const code = codes[index];
    if (outLength === undefined || errLength === undefined || code === undefined) break;
    if (position + outLength + errLength > output.length) break; // cut short: this op's output is incomplete
    results.push({
      code,
      stdout: output.subarray(position, position + outLength),
      stderr: output.subarray(position + outLength, position + outLength + errLength),
    });
    position += outLength + errLength;
  }
  return results;
}
