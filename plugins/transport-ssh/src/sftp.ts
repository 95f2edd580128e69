import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { FettleError, type FileOwnership, type RemoteStat } from '@fettle/core';
import type { SFTPWrapper } from 'ssh2';
import { openWithRetry } from './channels.js';
import type { SshConnection } from './connection.js';
import type { FileOps } from './exec-files.js';
import type { IdResolver } from './ids.js';
import { parseMode, typeOfMode } from './modes.js';

const CHUNK = 32 * 1024;
/** Write requests in flight per file: enough to fill the pipe, bounded so large files stream. */
const WRITES_IN_FLIGHT = 16;
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
/** The pattern of every temp file this transport creates beside a target: `.NAME.fettle-tmp-RANDOM`. */
export const TEMP_MARK = '.fettle-tmp-';

/** Turn one callback-style SFTP call into a promise (ssh2 also throws synchronously for unsupported extensions). */
function call<T = void>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(error) : resolve(value as T)));
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/**
 * Files over one SFTP session per connection, opened on first use and reused;
 * requests of concurrent operations are pipelined on it. Returns null from
 * `session()` when the server has no SFTP subsystem, so the caller can fall back.
 */
export interface SftpHelpers {
  /** Rename over a target by command (servers without posix-rename). */
  renameByExec(from: string, to: string): Promise<void>;
  /** Why a write into this folder failed, in OS words (`no space left on device`, …); undefined when it cannot tell. */
  diagnose(dir: string, size: number): Promise<string | undefined>;
  /** Temp files that could not be removed (the connection was lost): swept at the next contact. */
  leftover(temp: string): void;
  /** The login user, for hints (become helps only when it is not root). */
  readonly user: string;
}

export class SftpFiles implements FileOps {
  readonly #connection: SshConnection;
  readonly #ids: IdResolver;
  readonly #helpers: SftpHelpers;
  #session: Promise<SFTPWrapper | null> | undefined;

  constructor(connection: SshConnection, ids: IdResolver, helpers: SftpHelpers) {
    this.#connection = connection;
    this.#ids = ids;
    this.#helpers = helpers;
  }

  /**
   * One SFTP request that settles when the connection is lost: ssh2 never answers
   * requests pending on a dead connection, so each one also listens for the loss.
   */
  #call<T = void>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    const failure = this.#connection.failure();
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      const unsubscribe = this.#connection.onFailure(reject);
      call<T>(start).then(
        (value) => {
          unsubscribe();
          resolve(value);
        },
        (error: unknown) => {
          unsubscribe();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  session(): Promise<SFTPWrapper | null> {
    this.#session ??= this.#open();
    return this.#session;
  }

  async #open(): Promise<SFTPWrapper | null> {
    const connection = this.#connection;
    // The session occupies one channel slot for as long as it is open.
    const release = await connection.limiter.acquire();
    try {
      const sftp = await openWithRetry(() => this.#call<SFTPWrapper>((done) => connection.client.sftp(done)), () => connection.failure());
      sftp.on('close', () => {
        release();
        this.#session = undefined; // reopened on next use if the connection is still alive
      });
      return sftp;
    } catch (error) {
      release();
      this.#session = undefined;
      const failure = connection.failure();
      if (failure) throw failure;
      if (error instanceof Error && /subsystem/i.test(error.message)) return null;
      throw error;
    }
  }

  async #require(): Promise<SFTPWrapper> {
    const sftp = await this.session();
    if (!sftp) throw new FettleError('E_TRANSPORT', 'the server has no SFTP subsystem', { where: `host ${this.#connection.name}` });
    return sftp;
  }

  #error(what: string, target: string, error: unknown, reason?: string): Error {
    const failure = this.#connection.failure();
    if (failure) return failure;
    const code = (error as { code?: unknown }).code;
    const message = reason ?? (error instanceof Error ? error.message : String(error));
    const denied = code === PERMISSION_DENIED || reason === 'permission denied';
    let hint: string | undefined;
    if (denied) {
      hint =
        this.#helpers.user === 'root'
          ? 'even root may not change it: is it immutable (lsattr; chattr -i) or on a read-only mount?'
          : `SFTP runs as the login user ${this.#helpers.user}; use become: 'sudo' for files it cannot write`;
    } else if (reason === 'missing parent directory') hint = `create ${path.posix.dirname(target)} first (a directory item)`;
    return new FettleError('E_TRANSPORT', `cannot ${what} ${target}: ${message}`, { where: `host ${this.#connection.name}`, cause: error, hint });
  }

  /** SFTP says only `Failure` for most OS errors: ask the host what went wrong (failure path only, never the budget). */
  async #writeError(target: string, error: unknown, size: number): Promise<Error> {
    const failure = this.#connection.failure();
    if (failure) return failure;
    const code = (error as { code?: unknown }).code;
    let reason: string | undefined;
    if (code === NO_SUCH_FILE) reason = 'missing parent directory';
    else if (code !== PERMISSION_DENIED) reason = await this.#helpers.diagnose(path.posix.dirname(target), size).catch(() => undefined);
    return this.#error('write', target, error, reason);
  }

  async readFile(target: string): Promise<Buffer | null> {
    const sftp = await this.#require();
    try {
      return await this.#call<Buffer>((done) => sftp.readFile(target, done));
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_SUCH_FILE) return null;
      throw this.#error('read', target, error);
    }
  }

  async stat(target: string): Promise<RemoteStat | null> {
    const sftp = await this.#require();
    try {
      const attrs = await this.#call<{ mode: number; size: number }>((done) => sftp.lstat(target, done));
      return { type: typeOfMode(attrs.mode), size: attrs.size, mode: (attrs.mode & 0o7777).toString(8).padStart(4, '0') };
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_SUCH_FILE) return null;
      throw this.#error('stat', target, error);
    }
  }

  /**
   * Temp file `.<name>.fettle-tmp-<random>` beside the target, written in 32 KiB
   * chunks, then fsync + owner + mode + close sent together (the server runs them in
   * order), then posix-rename over the target. Any failure removes the temp file,
   * unless the connection is gone: then it is left for the next contact to sweep.
   */
  async writeFile(target: string, data: string | Uint8Array, ownership: FileOwnership = {}): Promise<void> {
    const mode = parseMode(ownership.mode, this.#connection.name);
    // Names are resolved before anything is created, so an unknown owner leaves no temp file.
    const wantsOwner = ownership.owner !== undefined || ownership.group !== undefined;
    const ids = wantsOwner ? await this.#ids.resolve(ownership.owner, ownership.group) : undefined;
    const sftp = await this.#require();
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const temp = path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);

    let handle: Buffer;
    try {
      handle = await this.#call<Buffer>((done) => sftp.open(temp, 'wx', { mode: 0o600 }, done));
    } catch (error) {
      if (this.#connection.failure()) this.#helpers.leftover(temp); // the open may have created it
      throw await this.#writeError(target, error, bytes.length);
    }
    let closed = false;
    try {
      await writeChunks((start) => this.#call(start), sftp, handle, bytes);
      const steps: Promise<unknown>[] = [];
      steps.push(this.#call((done) => sftp.ext_openssh_fsync(handle, done)).catch(ignoreUnsupported));
      if (ids) {
        let { uid, gid } = ids;
        if (uid === undefined || gid === undefined) {
          const current = await this.#call<{ uid: number; gid: number }>((done) => sftp.fstat(handle, done));
          uid ??= current.uid;
          gid ??= current.gid;
        }
        steps.push(this.#call((done) => sftp.fchown(handle, uid, gid, done)));
      }
      steps.push(this.#call((done) => sftp.fchmod(handle, mode, done)));
      steps.push(this.#call((done) => sftp.close(handle, done)).then(() => (closed = true)));
      const results = await Promise.allSettled(steps);
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      await this.#rename(sftp, temp, target);
    } catch (error) {
      const lost = this.#connection.failure();
      if (lost) {
        this.#helpers.leftover(temp);
        throw lost;
      }
      if (!closed) await this.#call((done) => sftp.close(handle, done)).catch(() => undefined);
      await this.#call((done) => sftp.unlink(temp, done)).catch(() => this.#helpers.leftover(temp));
      throw await this.#writeError(target, error, bytes.length);
    }
  }

  async #rename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    try {
      await this.#call((done) => sftp.ext_openssh_rename(from, to, done));
    } catch (error) {
      // SFTPv3 rename refuses to replace a file; without posix-rename, mv -f does it.
      if (error instanceof Error && /does not support/.test(error.message)) return this.#helpers.renameByExec(from, to);
      throw error;
    }
  }
}

function ignoreUnsupported(error: unknown): void {
  // A server without fsync@openssh.com still gets an atomic rename, only without the flush.
  if (error instanceof Error && /does not support/.test(error.message)) return;
  throw error;
}

type Caller = (start: (done: (error: Error | null | undefined) => void) => void) => Promise<void>;

async function writeChunks(request: Caller, sftp: SFTPWrapper, handle: Buffer, bytes: Buffer): Promise<void> {
  const chunks = Math.ceil(bytes.length / CHUNK);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < chunks && !failed) {
      const index = next++;
      const offset = index * CHUNK;
      const length = Math.min(CHUNK, bytes.length - offset);
      await request((done) => sftp.write(handle, bytes, offset, length, offset, done)).catch((error: unknown) => {
        failed = true;
        throw error;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITES_IN_FLIGHT, chunks) }, worker));
}
