// For the writer's tests (not exported from the package): its commands run here, through a local
// `sh`, with the payload streamed on stdin as the transports do.
import { spawn } from 'node:child_process';
import type { ExecResult } from '@fettle/core';
import { sendPayload, type Payload } from './tar.js';

export function localRunner(command: string, stdin?: Payload): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal: signal ?? undefined, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    sendPayload(child.stdin, stdin);
  });
}
