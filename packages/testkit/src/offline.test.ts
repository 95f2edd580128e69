import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';

// `pnpm test:all` runs the suite through scripts/offline.mjs: in a network namespace of its own
// with only loopback, marked by FETTLE_OFFLINE=1. This checks the namespace really is that.
const offline = process.env['FETTLE_OFFLINE'] === '1';
if (!offline) console.warn('testkit: not run through scripts/offline.mjs: the loopback-only check is SKIPPED');

/** How a TCP connection to `host:port` ends: 'connected', or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe.skipIf(!offline)('the test suite runs offline', () => {
  it('sees only the loopback interface, and a public address is unreachable at once', async () => {
    expect(Object.keys(networkInterfaces())).toEqual(['lo']);
    // Beyond loopback (a documentation address, a public resolver): no route, refused before any packet leaves.
    expect(await tryConnect('192.0.2.1', 443)).toBe('ENETUNREACH');
    expect(await tryConnect('1.1.1.1', 53)).toBe('ENETUNREACH');
  });
});
