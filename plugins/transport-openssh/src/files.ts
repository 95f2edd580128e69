import type { FileOwnership, LocalFile, RemoteStat } from '@fettle/core';
import { commandReads, tarWriter, type Runner, type TarWriterOptions } from '@fettle/transport-shell';

export interface FileOps {
  readFile(path: string): Promise<Buffer | null>;
  writeFile(path: string, data: string | Uint8Array | LocalFile, ownership?: FileOwnership): Promise<void>;
  stat(path: string): Promise<RemoteStat | null>;
}

/**
 * Files through commands. Writes asked for in the same tick travel together as one
 * tar stream into one command (`@fettle/transport-shell`, shared with the ssh2
 * transport), each placed atomically, so a cold apply of N files costs one command.
 */
export function commandFiles(run: Runner, options: TarWriterOptions): FileOps {
  return {
    ...commandReads(run, options.hostName),
    writeFile: tarWriter(run, options),
  };
}
