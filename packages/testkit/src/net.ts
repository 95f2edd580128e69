import { connect, createServer } from 'node:net';

/** A loopback port free at the time of asking (the caller retries if it is taken before it binds). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => {
        if (port) resolvePort(port);
        else reject(new Error('could not read a free port'));
      });
    });
  });
}

export function portAccepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      sock.destroy();
      done(ok);
    };
    sock.once('connect', () => {
      finish(true);
    });
    sock.once('error', () => {
      finish(false);
    });
    sock.setTimeout(1000, () => {
      finish(false);
    });
  });
}
