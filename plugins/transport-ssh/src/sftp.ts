import { FettleError, type RemoteStat } from '@fettle/core';
import type { SFTPWrapper } from 'ssh2';
import { openWithRetry } from './channels.js';
import type { SshConnection } from './connection.js';
import { typeOfMode, type FileReads } from '@fettle/transport-shell';

const NO_SUCH_FILE = 2;

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
 * Reads and stats over one SFTP session per connection, opened on first use and
 * reused; requests of concurrent operations are pipelined on it. Returns null from
 * `session()` when the server has no SFTP subsystem, so the caller can fall back.
 * (Writes go through the tar writer: one command per batch, whatever the file count.)
 */
export class SftpFiles implements FileReads {
  readonly #connection: SshConnection;
  #session: Promise<SFTPWrapper | null> | undefined;

  constructor(connection: SshConnection) {
    this.#connection = connection;
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

  #error(what: string, target: string, error: unknown): Error {
    const failure = this.#connection.failure();
    if (failure) return failure;
    const message = error instanceof Error ? error.message : String(error);
    return new FettleError('E_TRANSPORT', `cannot ${what} ${target}: ${message}`, { where: `host ${this.#connection.name}`, cause: error });
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
}
