import { shellText } from '../protocols/shell.js';
import type { Host } from '../protocols/host.js';
import type { ItemContext, RunResult, WriteOptions } from '../protocols/item.js';
import type { ExecOptions, FileData, FileOwnership } from '../protocols/transport.js';
import type { Fact } from '../protocols/fact.js';
import { FettleError } from '../errors.js';

/** What a host session does for the context it hands to item code. */
export interface SessionOps {
  fact<Q, R>(fact: Fact<Q, R>, query: Q): Promise<R>;
  run(command: string, options?: ExecOptions): Promise<RunResult>;
  readFile: ItemContext['readFile'];
  writeFile(itemPath: string, data: FileData, ownership?: FileOwnership, options?: WriteOptions): Promise<void>;
}

export interface ContextPlace {
  readonly host: Host;
  readonly root: string;
  readonly siteDir: string;
  readonly hostPath: ItemContext['hostPath'];
}

/** The context item code sees; arrow functions, since item code may call them detached. */
export function sessionContext(place: ContextPlace, ops: SessionOps, secrets?: (name: string) => Promise<string>, warn?: (message: string) => void): ItemContext {
  const host = place.host;
  return {
    host,
    root: place.root,
    siteDir: place.siteDir,
    hostPath: place.hostPath,
    secret: (name) => {
      if (!secrets) return Promise.reject(new FettleError('E_SECRET', `secret '${name}' cannot be read here`, { where: `host ${host.name}` }));
      return secrets(name);
    },
    fact: <Q, R>(fact: Fact<Q, R>, query: Q) => ops.fact(fact, query),
    run: async (command, options) => ops.run(shellText(command, 'run()'), options),
    runChecked: async (command, options) => {
      const result = await ops.run(shellText(command, 'runChecked()'), options);
      if (result.code !== 0) {
        throw new FettleError('E_COMMAND', `command failed with exit code ${String(result.code)}: ${result.stderr.trim() || result.stdout.trim() || '(no output)'}`, {
          where: `host ${host.name}`,
        });
      }
      return result;
    },
    readFile: (itemPath) => ops.readFile(itemPath),
    writeFile: (itemPath, data, ownership?: FileOwnership, options?: WriteOptions) => ops.writeFile(itemPath, data, ownership, options),
    warn: (message) => warn?.(message),
  };
}

/**
 * One item's context: the session's, except that reading a secret marks the item as
 * carrying one (`taint`), and warnings name the item.
 */
export function itemContext(base: ItemContext, itemId: string, taint: (itemId: string) => void): ItemContext {
  return {
    ...base,
    secret: (name) => {
      taint(itemId);
      return base.secret(name);
    },
    warn: (message) => base.warn(`${itemId}: ${message}`),
  };
}
