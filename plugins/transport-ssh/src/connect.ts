import net from 'node:net';
import type { Duplex } from 'node:stream';
import { UnreachableError, type ConnectContext } from '@fettle/core';
import type { Client as ClientType, ConnectConfig } from 'ssh2';
import ssh2 from './ssh2-parts.cjs';
import { authPlan, type AuthPlan, type PromptPause } from './auth.js';
import { verifyHostKey, offeredHostKeyAlgorithms } from './host-key.js';
import { runFiles, type RunFiles } from './run-files.js';
import type { Endpoint, SshSettings } from './settings.js';

const { Client } = ssh2;

export interface OpenedConnection {
  readonly client: ClientType;
  /** Jump connections, first hop first; closed after the target. */
  readonly jumps: readonly ClientType[];
}

/** Connect through the ProxyJump chain (if any) to the target; each hop has its own deadline. */
export async function openConnection(settings: SshSettings, context: ConnectContext): Promise<OpenedConnection> {
  const jumps: ClientType[] = [];
  const files = runFiles(context);
  try {
    let via: ClientType | undefined;
    for (const hop of [...settings.jumps, settings.target]) {
      const isTarget = hop === settings.target;
      const client = await connectHop(hop, via, context, files, settings.name, isTarget);
      if (isTarget) return { client, jumps };
      jumps.push(client);
      via = client;
    }
    throw new Error('unreachable');
  } catch (error) {
    for (const jump of jumps.reverse()) jump.end();
    throw error;
  }
}

/** A timer that stops while a human is typing a passphrase. */
class Deadline implements PromptPause {
  #remaining: number;
  #started = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #paused = 0;
  readonly #onExpire: () => void;

  constructor(ms: number, onExpire: () => void) {
    this.#remaining = ms;
    this.#onExpire = onExpire;
    this.#timer = setTimeout(onExpire, ms);
  }
  pause(): void {
    if (this.#paused++ > 0 || !this.#timer) return;
    clearTimeout(this.#timer);
    this.#remaining -= Date.now() - this.#started;
  }
  resume(): void {
    if (--this.#paused > 0 || !this.#timer) return;
    this.#started = Date.now();
    this.#timer = setTimeout(this.#onExpire, Math.max(0, this.#remaining));
  }
  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * ssh2 writes each SSH packet to the socket on its own: with TCP_NODELAY that is one
 * syscall and one segment per packet, and one wake-up of the server for each. Many
 * requests leave in one go (100 SFTP writes are ~600 packets), so the writes made during
 * one turn of the event loop are held (cork) and sent together at its end (uncork, one
 * writev): the same bytes, no added round trip, far fewer syscalls on both sides.
 */
export function coalesceWrites(socket: net.Socket): void {
  const write = socket.write.bind(socket) as (...args: Parameters<net.Socket['write']>) => boolean;
  let held = false;
  const flush = (): void => {
    held = false;
    socket.uncork();
  };
  socket.write = ((...args: Parameters<net.Socket['write']>): boolean => {
    if (!held) {
      held = true;
      socket.cork();
      setImmediate(flush);
    }
    return write(...args);
  }) as net.Socket['write'];
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);

async function connectHop(
  hop: Endpoint,
  via: ClientType | undefined,
  context: ConnectContext,
  files: RunFiles,
  hostName: string,
  isTarget: boolean,
): Promise<ClientType> {
  const endpoint = `${hop.user}@${hop.hostname}:${hop.port}`;
  const policy = hop.hostKeyPolicy;
  // Errors name the host (they travel on their own); warnings don't: the engine prefixes the host name.
  const hopText = isTarget ? endpoint : `via jump host ${hop.alias} (${endpoint})`;
  const where = `${hostName} ${isTarget ? `(${endpoint})` : hopText}`;
  // Only the entries naming this host: what checking its key needs, looked up once.
  const known = policy === 'off' ? { entries: [], invalid: [] } : await files.knownHostsFor(hop.knownHostsFiles, hop.hostKeyName);
  for (const message of known.invalid) context.warn(message);
  const entries = known.entries;
  return new Promise<ClientType>((resolve, reject) => {
    const client = new Client();
    let sock: Duplex | undefined;
    let settled = false;
    let hostKeyError: UnreachableError | undefined;
    let lastError: Error | undefined;

    const fail = (error: UnreachableError): void => {
      if (settled) return;
      settled = true;
      deadline.clear();
      context.signal?.removeEventListener('abort', onAbort);
      client.removeAllListeners('ready');
      client.on('error', () => undefined); // late errors of a torn-down client are not news
      client.end();
      sock?.destroy();
      reject(error);
    };
    const deadline = new Deadline(hop.connectTimeoutMs, () =>
      fail(new UnreachableError('timeout', `${where}: no SSH connection within ${hop.connectTimeoutMs} ms`)),
    );
    const onAbort = (): void => fail(new UnreachableError('other', `${where}: connection attempt interrupted`));
    if (context.signal?.aborted) return onAbort();
    context.signal?.addEventListener('abort', onAbort, { once: true });

    const plan = authPlan(hop, context, deadline, files);
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      deadline.clear();
      context.signal?.removeEventListener('abort', onAbort);
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string }) => {
      // Agent trouble and one key failing to sign are not fatal: ssh2 goes on to the next method.
      if (error.level === 'agent' || /^Error while signing/.test(error.message)) {
        context.warn(`${hopText}: ${error.message}`);
        return;
      }
      lastError = error;
      if (!settled) fail(classify(error, where, hostKeyError, plan));
    });
    client.on('close', () => {
      // Every connection closes in the end: once it was up, there is no error to make.
      if (settled) return;
      fail(classify(lastError ?? new Error('the server closed the connection during the handshake'), where, hostKeyError, plan));
    });

    const serverHostKey = offeredHostKeyAlgorithms(entries, hop.hostKeyName, hop.hostKeyAlgorithms);
    const config: ConnectConfig = {
      username: hop.user,
      readyTimeout: 0, // our Deadline covers TCP connect too, and pauses during prompts
      keepaliveInterval: hop.keepaliveIntervalMs, // notice a dead peer mid-run instead of hanging
      keepaliveCountMax: hop.keepaliveCountMax,
      authHandler: plan.handler,
      algorithms: serverHostKey ? { serverHostKey } : undefined,
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        verifyHostKey({ key, entries, endpoint: hop, policy, where, warnWhere: hopText, warn: (message) => context.warn(message), recorded: (file) => files.changed(file) }).then(
          (error) => {
            hostKeyError = error;
            verify(error === undefined);
          },
          (error: unknown) => {
            hostKeyError = new UnreachableError('host-key', `${where}: cannot check the host key: ${String(error)}`, { cause: error });
            verify(false);
          },
        );
      },
    };

    const start = (stream: Duplex): void => {
      sock = stream;
      if (settled) return void stream.destroy();
      client.connect({ ...config, sock: stream });
      // ssh2 never disables Nagle; with it on every round trip stalls ~40 ms on delayed ACKs.
      client.setNoDelay(true);
    };

    if (via) {
      via.forwardOut('127.0.0.1', 0, hop.hostname, hop.port, (error, channel) => {
        if (error) return fail(new UnreachableError('refused', `${where}: the jump host could not open a connection: ${error.message}`, { cause: error }));
        start(channel);
      });
      return;
    }
    const socket = net.connect({ host: hop.hostname, port: hop.port });
    socket.setNoDelay(true);
    coalesceWrites(socket);
    sock = socket;
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      start(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      if (code === 'ECONNREFUSED') fail(new UnreachableError('refused', `${where}: connection refused`, { cause: error }));
      else if (DNS_CODES.has(code)) fail(new UnreachableError('dns', `${where}: cannot resolve ${hop.hostname} (${code})`, { cause: error }));
      else if (code === 'ETIMEDOUT') fail(new UnreachableError('timeout', `${where}: TCP connect timed out`, { cause: error }));
      else fail(new UnreachableError('other', `${where}: ${error.message}`, { cause: error }));
    });
  });
}

function classify(error: Error & { level?: string }, where: string, hostKeyError: UnreachableError | undefined, plan: AuthPlan): UnreachableError {
  if (hostKeyError) return hostKeyError;
  if (error.level === 'client-authentication') {
    const { tried, refused } = plan;
    const offered = tried.length > 0 ? tried.join(', ') : 'nothing (no agent, no readable identity file)';
    const why = refused.length > 0 ? `; ${refused.join('; ')}` : '';
    return new UnreachableError('auth', `${where}: authentication failed; offered ${offered}${why}`, { cause: error });
  }
  if (error.level === 'client-socket') {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || code === 'EPIPE') return new UnreachableError('refused', `${where}: the server dropped the connection (${code})`, { cause: error });
  }
  return new UnreachableError('other', `${where}: ${error.message}`, { cause: error });
}
