import { randomBytes } from 'node:crypto';
import { shellQuote } from '../protocols/fact.js';
import type { ExecResult } from '../protocols/transport.js';

/** One command inside a batch script. */
export interface BatchOp {
  readonly command: string;
  readonly stdin?: Buffer | undefined;
}

/**
 * Build one POSIX sh script that runs every op in turn and frames each result as
 * `\n@INDEX CODE OUTLEN ERRLEN\n` followed by the exact stdout and stderr bytes.
 * Byte lengths, not markers, delimit the output, so no command can spoof a frame.
 */
export function buildBatchScript(ops: readonly BatchOp[]): string {
  const lines = [
    'T=$(mktemp -d "${TMPDIR:-/tmp}/fettle.XXXXXX") || exit 97',
    `trap 'rm -rf "$T"' EXIT`,
    `f() { (eval "$2") <"$3" >"$T/o" 2>"$T/e"; r=$?; printf '\\n@%s %s %s %s\\n' "$1" "$r" $(wc -c <"$T/o") $(wc -c <"$T/e"); cat "$T/o" "$T/e"; }`,
  ];
  ops.forEach((op, index) => {
    if (op.stdin && op.stdin.length > 0) {
      const end = `FETTLE_EOF_${randomBytes(8).toString('hex')}`;
      const encoded = op.stdin.toString('base64').replace(/.{1,76}/g, '$&\n');
      lines.push(`base64 -d >"$T/i" <<'${end}'`, encoded.trimEnd(), end, `f ${index} ${shellQuote(op.command)} "$T/i"`);
    } else {
      lines.push(`f ${index} ${shellQuote(op.command)} /dev/null`);
    }
  });
  return `${lines.join('\n')}\n`;
}

/** Split a batch script's output back into one result per op. */
export function parseBatchOutput(output: Buffer, count: number): ExecResult[] {
  const results: ExecResult[] = [];
  let position = 0;
  while (results.length < count) {
    if (output[position] !== 0x0a || output[position + 1] !== 0x40) break;
    const headerEnd = output.indexOf(0x0a, position + 2);
    if (headerEnd < 0) break;
    const match = /^(\d+) (\d+) (\d+) (\d+)$/.exec(output.subarray(position + 2, headerEnd).toString('latin1'));
    if (!match || Number(match[1]) !== results.length) break;
    const outLength = Number(match[3]);
    const errLength = Number(match[4]);
    const start = headerEnd + 1;
    if (start + outLength + errLength > output.length) break; // cut short: the op's output is incomplete
    results.push({
      code: Number(match[2]),
      stdout: output.subarray(start, start + outLength),
      stderr: output.subarray(start + outLength, start + outLength + errLength),
    });
    position = start + outLength + errLength;
  }
  return results;
}
