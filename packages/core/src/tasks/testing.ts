// Test helpers for the task tests (not exported from the package). The core may
// not import a plugin, so this is a minimal sandboxed local transport.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Transport, TransportDefinition } from '../protocols/transport.js';
import { execSh } from '../test-support.js';
import { definePlugin, type Plugin } from '../protocols/plugin.js';
import type { Task } from '../protocols/task.js';

/** Commands through local `sh`, every item path under `root`; counts commands per host. */
export function sandboxTransport(execs: Map<string, number> = new Map()): TransportDefinition {
  return {
    name: 'sandbox',
    description: 'local sh confined to a root folder, for core tests',
    options: z.strictObject({ root: z.string() }),
    async connect(host, options: { root: string }) {
      await mkdir(options.root, { recursive: true });
      const transport: Transport = {
        root: options.root,
        exec: (command, exec = {}) => {
          execs.set(host.name, (execs.get(host.name) ?? 0) + 1);
          return execSh(command, exec.stdin);
        },
        readFile: async (file) => readFile(file).catch(() => null),
        writeFile: async (file, data) => {
          await mkdir(path.dirname(file), { recursive: true });
          await writeFile(file, data);
        },
        stat: () => Promise.resolve(null),
        close: () => Promise.resolve(),
      };
      return transport;
    },
  };
}

export function sandboxPlugin(execs?: Map<string, number>): Plugin {
  return definePlugin({ name: 'test-sandbox', transports: [sandboxTransport(execs)] });
}

export async function tempRoot(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fettle-tasks-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A task that appends `host/id` to a log when it runs. */
export function loggedTask(log: string[], host: string, id: string, extra: Partial<Task> = {}): Task {
  return {
    id,
    description: `task ${id}`,
    run: () => {
      log.push(`${host}/${id}`);
      return Promise.resolve();
    },
    ...extra,
  };
}
