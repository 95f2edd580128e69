import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { definePlugin, defineTransport, writeFileAtomic, z, type ExecResult, type FileOwnership, type LocalFile, type Transport } from '@fettle/core';
import { resolveIds } from './accounts.js';

const options = z.strictObject({
  /** Prefix for every item path; relative to the site folder. Created when missing. */
  root: z.string().default('/'),
});

function execLocal(command: string, stdin: string | Uint8Array | undefined, timeoutMs: number | undefined): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGTERM'), timeoutMs) : undefined;
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal: signal ?? undefined, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
    // A command that ignores stdin may close it early; that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin));
  });
}

/** Write atomically (temp file beside the target, fsync, mode and owner, rename), owner names resolved locally. */
export async function writeLocalFile(target: string, data: string | Uint8Array | LocalFile, ownership: FileOwnership = {}): Promise<void> {
  const ids = ownership.owner !== undefined || ownership.group !== undefined ? await resolveIds(ownership.owner, ownership.group) : undefined;
  await writeFileAtomic(target, data, { mode: ownership.mode === undefined ? 0o644 : parseInt(ownership.mode, 8), uid: ids?.uid, gid: ids?.gid });
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The controller itself as a host: commands through `sh -c`, files through node:fs. */
export const localTransport = defineTransport({
  name: 'local',
  description: 'the controller itself (commands via sh, files via node:fs); `root` prefixes every item path',
  options,
  async connect(_host, opts, context): Promise<Transport> {
    const root = path.resolve(context.siteDir, opts.root);
    await mkdir(root, { recursive: true });
    return {
      root,
      exec: (command, execOptions = {}) => execLocal(command, execOptions.stdin, execOptions.timeoutMs),
      readFile: readOrNull,
      writeFile: writeLocalFile,
      writeLocalFile,
      async stat(file) {
        try {
          const stats = await lstat(file);
          const type = stats.isSymbolicLink() ? 'symlink' : stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : 'other';
          return { type, size: stats.size, mode: (stats.mode & 0o7777).toString(8).padStart(4, '0') };
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw error;
        }
      },
      close: () => Promise.resolve(),
    };
  },
});

export default definePlugin({
  name: '@fettle/transport-local',
  version: '0.1.0',
  transports: [localTransport],
});
