import { Readable, pipeline, type Writable } from 'node:stream';
import { isLocalFile, localFileChunks, type LocalFile } from '@fettle/core';

/**
 * A minimal tar (ustar, with a pax header for long names) writer: regular files
 * only, which is all a batch of writes needs. GNU tar, busybox tar and bsdtar read it.
 */

const BLOCK = 512;
/** Archives are padded to whole 10 KiB records, the size every tar reads in. */
const RECORD = 20 * BLOCK;

export interface TarEntry {
  /** Relative member name (`etc/app/.files.fettle-tmp-…/app.conf`). */
  readonly name: string;
  /** The bytes, or a controller file streamed when the archive is sent (never held whole). */
  readonly data: Uint8Array | LocalFile;
  /** Permission bits in the header (the writer sets the final mode itself). */
  readonly mode: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: Buffer, size: number, mode: number, type: '0' | 'x'): Buffer {
  const block = Buffer.alloc(BLOCK);
  name.copy(block, 0, 0, Math.min(name.length, 100));
  block.write(octal(mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // the checksum is computed with its own field as spaces
  block.write(type, 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  // An indexed loop: a Buffer's iterator costs an object per header (800 files, 800 headers).
  let sum = 0;
  for (let index = 0; index < BLOCK; index++) sum += block[index] as number;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** One pax record `LEN key=value\n`, LEN counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** A piece of an archive: bytes, or a local file's bytes to be read when it is sent. */
export type TarPart = Buffer | LocalFile;

/**
 * The archive as a list of parts (file data is referenced, not copied), ending
 * with the two zero blocks and padded to a whole record.
 */
export function tarArchive(entries: readonly TarEntry[]): TarPart[] {
  const parts: TarPart[] = [];
  let total = 0;
  const push = (part: TarPart): void => {
    parts.push(part);
    total += isLocalFile(part) ? part.size : part.length;
  };
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    if (name.length > 100) {
      const pax = paxRecord('path', name);
      push(header(Buffer.from('././@PaxHeader'), pax.length, 0o644, 'x'));
      push(pax);
      push(padding(pax.length));
    }
    const data = isLocalFile(entry.data) ? entry.data : Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    const size = isLocalFile(data) ? data.size : data.length;
    push(header(name, size, entry.mode, '0'));
    if (size > 0) push(data);
    push(padding(size));
  }
  push(Buffer.alloc(2 * BLOCK));
  const rest = (RECORD - (total % RECORD)) % RECORD;
  if (rest > 0) push(Buffer.alloc(rest));
  return parts;
}

/** A command's stdin: bytes, or a stream of them (ended by its producer). */
export type Payload = Buffer | Readable;

/**
 * What to put on the command's stdin: one buffer when every part is in memory, else
 * a stream that reads each local file as it goes (bounded memory whatever its size).
 * A local file that cannot be read, or changed size, ends the stream early instead
 * of failing it: tar sees a short archive and writes nothing into place, and
 * `failure()` says why.
 */
export function tarPayload(parts: readonly TarPart[]): { stdin: Payload; failure(): Error | undefined } {
  if (parts.every((part) => !isLocalFile(part))) return { stdin: Buffer.concat(parts as Buffer[]), failure: () => undefined };
  let failed: Error | undefined;
  const chunks = async function* (): AsyncGenerator<Buffer> {
    try {
      for (const part of parts) {
        if (isLocalFile(part)) yield* localFileChunks(part);
        else yield part;
      }
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
    }
  };
  return { stdin: Readable.from(chunks(), { objectMode: false }), failure: () => failed };
}

/**
 * Put a payload on a command's stdin and end it. A stream is written with back
 * pressure, so memory stays bounded; if the command's stdin closes first (the
 * command exited, the connection died), the stream is destroyed, which closes the
 * local file it was reading.
 */
export function sendPayload(sink: Writable, payload: Payload | undefined): void {
  if (payload === undefined || Buffer.isBuffer(payload)) {
    sink.end(payload);
    return;
  }
  pipeline(payload, sink, () => undefined);
}
