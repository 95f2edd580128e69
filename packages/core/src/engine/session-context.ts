import { shellText } from '../protocols/shell.js';
import type { Host } from '../protocols/host.js';
import type { ItemContext, RunResult } from '../protocols/item.js';
import type { ExecOptions } from '../protocols/transport.js';
import { FettleError } from '../errors.js';

/** What a host session does for the context it hands to item code. */
export interface SessionOps {
  readonly fact: ItemContext['fact'];
  /** A command already checked as shell text. */
  readonly run: (command: string, options?: ExecOptions) => Promise<RunResult>;
  readonly readFile: ItemContext['readFile'];
  readonly writeFile: ItemContext['writeFile'];
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
    fact: ops.fact,
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
    readFile: ops.readFile,
    writeFile: ops.writeFile,
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
