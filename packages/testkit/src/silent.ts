import { createServer, type Socket } from 'node:net';

export interface SilentHost {
  readonly address: '127.0.0.1';
  readonly port: number;
  /** Destroys open connections and closes the listener. Idempotent. */
  readonly close: () => Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that accepts connections and never sends a byte:
 * an SSH client waiting for the server banner hangs until its own timeout.
 */
export function silentHost(): Promise<SilentHost> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined); // client resets are expected
    sock.on('close', () => sockets.delete(sock));
  });
  let closing: Promise<void> | undefined;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (typeof addr !== 'object' || !addr) {
        reject(new Error('silentHost: could not read the port'));
        return;
      }
      resolve({
        address: '127.0.0.1',
        port: addr.port,
        close: () => {
          closing ??= new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => {
              done();
            });
          });
          return closing;
        },
      });
    });
  });
}
