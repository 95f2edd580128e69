import { UnreachableError } from '@fettle/core';
import type { Client } from 'ssh2';
import { ChannelLimiter } from './channels.js';
import type { OpenedConnection } from './connect.js';

/**
 * One host's SSH connection once it is up: the channel limiter, and one place that
 * knows whether the connection is still usable, so every pending operation can be
 * told the moment it is lost instead of waiting on a dead socket.
 */
export class SshConnection {
  readonly client: Client;
  readonly name: string;
  readonly limiter: ChannelLimiter;
  readonly #jumps: readonly Client[];
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  readonly #listeners = new Set<(error: Error) => void>();

  constructor(opened: OpenedConnection, name: string, maxChannels: number) {
    this.client = opened.client;
    this.#jumps = opened.jumps;
    this.name = name;
    this.limiter = new ChannelLimiter(maxChannels);
    let lastError: Error | undefined;
    this.client.on('error', (error: Error) => {
      lastError = error;
    });
    this.client.on('close', () => {
      // After close() (every host at the end of a run) the failure is set already: no error to build, stack and all.
      if (this.#failure === undefined) {
        const reason = lastError ? lastError.message : 'the server closed it';
        this.#fail(new UnreachableError('lost', `${name}: the SSH connection was lost (${reason})`, { cause: lastError }));
      }
      for (const jump of this.#jumps) jump.end();
    });
  }

  /** Why the connection can no longer be used, or undefined while it can. */
  failure(): Error | undefined {
    return this.#failure;
  }

  /** Call `listener` once if the connection is lost; returns the unsubscribe function. */
  onFailure(listener: (error: Error) => void): () => void {
    if (this.#failure) {
      const failure = this.#failure;
      queueMicrotask(() => listener(failure));
      return () => undefined;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const listener of this.#listeners) listener(error);
    this.#listeners.clear();
  }

  /** End the connection (and its jump hosts); waits briefly for a clean close. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const alreadyLost = this.#failure !== undefined;
      this.#fail(new Error(`${this.name}: the SSH transport was closed`));
      if (alreadyLost) {
        for (const jump of this.#jumps) jump.end();
        return resolve();
      }
      const done = (): void => {
        clearTimeout(timer);
        for (const jump of this.#jumps) jump.end();
        resolve();
      };
      const timer = setTimeout(() => {
        this.client.destroy();
        done();
      }, 2000);
      this.client.once('close', done);
      this.client.end();
    });
    return this.#closing;
  }
}
