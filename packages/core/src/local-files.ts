import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

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

/**
 * Write a file on this machine so readers see the old content or the new, never
 * half: a temp file in the same folder, fsync, mode and owner set, rename over the
 * target, then fsync the folder so the rename survives a crash. For the
 * controller's own files (state cache, known_hosts, secrets) and the local transport.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
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

async function writeThroughTemp(temp: string, file: string, data: string | Uint8Array, mode: number, options: AtomicWriteOptions): Promise<void> {
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(data);
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
