// Test helpers for the core's own tests (not exported from the package).
import { spawn } from 'node:child_process';
import type { ExecResult, Transport, TransportDefinition } from './protocols/transport.js';
import { z } from 'zod';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Run a command in a real local `sh` with optional stdin. */
export function execSh(command: string, stdin?: string | Uint8Array): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const child = spawn('sh', ['-c', command]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin));
  });
}

/** Runs commands in a real local `sh`; files are not used by the core's tests. */
export function shellTransport(counter: { execs: number } = { execs: 0 }): TransportDefinition {
  return {
    name: 'sh',
    description: 'local sh for core tests',
    options: z.object({}),
    connect: () => {
      // State (the host lock) goes to a folder of its own, never the machine's /var/lib/fettle;
      // removed when the engine closes the connection, so test runs leave nothing in /tmp.
      const root = mkdtempSync(path.join(tmpdir(), 'fettle-core-sh-'));
      return Promise.resolve<Transport>({
        root,
        exec: (command, options = {}) => {
          counter.execs++;
          return execSh(command, options.stdin);
        },
        readFile: () => Promise.resolve(null),
        writeFile: () => Promise.reject(new Error('not used')),
        stat: () => Promise.resolve(null),
        close: () => rm(root, { recursive: true, force: true }),
      });
    },
  };
}
