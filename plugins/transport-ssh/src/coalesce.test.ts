import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from './connect.js';

describe('coalesceWrites', () => {
  it('holds the writes of one event-loop turn and sends them together, in order, byte for byte', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((peer) => peer.on('data', (chunk: Buffer) => received.push(chunk)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    coalesceWrites(socket);
    await once(socket, 'connect');

    const packets = Array.from({ length: 200 }, (_, i) => Buffer.from(`packet ${i};`));
    for (const packet of packets) socket.write(packet);
    expect(socket.writableCorked).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writableCorked).toBe(0);
    // A later turn starts a new hold, and end() sends what is held.
    socket.write('tail;');
    expect(socket.writableCorked).toBe(1);
    socket.end();
    await once(socket, 'finish');

    await new Promise<void>((resolve) => {
      const poll = (): void => {
        if (Buffer.concat(received).length >= Buffer.concat([...packets, Buffer.from('tail;')]).length) resolve();
        else setTimeout(poll, 5);
      };
      poll();
    });
    expect(Buffer.concat(received).toString()).toBe(`${packets.join('')}tail;`);
    // 201 writes arrive as a handful of segments, not one per write.
    expect(received.length).toBeLessThan(10);
    socket.destroy();
    server.close();
  });
});
