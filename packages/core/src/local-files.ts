import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isLocalFile, type LocalFile } from './protocols/transport.js';

/** A regular file on this machine, to be streamed to a host by `writeFile` (its size is taken now). */
export async function localFile(file: string): Promise<LocalFile> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a regular file`);
  return Object.freeze({ kind: 'local-file', localPath: file, size: info.size });
}

const CHUNK = 256 * 1024;

/**
 * The bytes of a local file in bounded chunks, exactly `size` of them: a file that
 * shrank or grew since `localFile()` throws before its last chunk is given out, so
 * whatever carries it ends short (a tar stream then fails as a whole) and never
 * delivers a different file than the one hashed and announced.
 */
export async function* localFileChunks(file: LocalFile): AsyncGenerator<Buffer> {
  const handle = await open(file.localPath, 'r');
  try {
    let done = 0;
    while (done < file.size) {
      const want = Math.min(CHUNK, file.size - done);
      const last = done + want === file.size;
      // The last read asks for one byte more: getting it means the file grew.
      const buffer = Buffer.allocUnsafe(last ? want + 1 : want);
      const bytesRead = await readFully(handle, buffer, done);
      if (bytesRead < want) throw new Error(`${file.localPath} shrank while it was being sent (${String(done + bytesRead)} of ${String(file.size)} bytes)`);
      if (bytesRead > want) throw new Error(`${file.localPath} grew while it was being sent (more than ${String(file.size)} bytes)`);
      done += want;
      yield buffer.subarray(0, want);
    }
  } finally {
    await handle.close();
  }
}

export interface AtomicWriteOptions {
  /** Permission bits, set exactly (the umask does not narrow them). Default 0o644. */
  readonly mode?: number | undefined;
  /** Owner and group ids; -1 or undefined leaves them as the writer's. */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** Create the folder when missing (with this mode). */
  readonly createFolder?: boolean | undefined;
  readonly folderMode?: number | undefined;
}


/** Fill `buffer` from `position` (a read may return less than asked); the bytes read, fewer at the end of the file. */
async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let got = 0;
  while (got < buffer.length) {
    const { bytesRead } = await handle.read(buffer, got, buffer.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/**
 * Write a file on this machine so readers see the old content or the new, never
 * half: a temp file in the same folder, fsync, mode and owner set, rename over the
 * target, then fsync the folder so the rename survives a crash. For the
 * controller's own files (state cache, known_hosts, secrets) and the local transport.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array | LocalFile, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  if (options.createFolder) await mkdir(dir, { recursive: true, mode: options.folderMode });
  const temp = path.join(dir, `.${path.basename(file)}.fettle-${randomBytes(6).toString('hex')}`);
  const mode = options.mode ?? 0o644;
  try {
    await writeThroughTemp(temp, file, data, mode, options);
  } catch (error) {
    // The temp file is ours, not the user's: name the file they asked for.
    throw renamePaths(error, temp, file);
  }
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } catch {
    // Some filesystems refuse fsync on a folder; the rename itself is done.
  } finally {
    await folder.close();
  }
}

async function writeThroughTemp(temp: string, file: string, data: string | Uint8Array | LocalFile, mode: number, options: AtomicWriteOptions): Promise<void> {
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      if (isLocalFile(data)) for await (const chunk of localFileChunks(data)) await handle.write(chunk);
      else await handle.writeFile(data);
      await handle.chmod(mode);
      if ((options.uid ?? -1) !== -1 || (options.gid ?? -1) !== -1) await handle.chown(options.uid ?? -1, options.gid ?? -1);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function renamePaths(error: unknown, temp: string, file: string): unknown {
  if (!(error instanceof Error)) return error;
  const errno = error as NodeJS.ErrnoException;
  const message = error.message.split(temp).join(file);
  const renamed = Object.assign(new Error(message), { code: errno.code, errno: errno.errno, syscall: errno.syscall, path: file });
  return renamed;
}
