import { existsSync } from 'node:fs';
import type { ConnectContext } from '@fettle/core';
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, ParsedKey } from 'ssh2';
import { askOnce } from '@fettle/transport-shell';
import type { RunFiles } from './run-files.js';
import type { Endpoint } from './settings.js';

/** Hooks so a passphrase prompt does not eat the connect timeout. */
export interface PromptPause {
  pause(): void;
  resume(): void;
}

export interface AuthPlan {
  readonly handler: AuthHandlerMiddleware;
  /** What was offered, for the "authentication failed" message (never secrets). */
  readonly tried: string[];
  /** Key files refused before offering them (too open), with OpenSSH's reason and the fix. */
  readonly refused: string[];
}

type Attempt = () => Promise<AnyAuthMethod | null>;

/**
 * Offer the agent first, then each key file, like OpenSSH. Keys are read and
 * decrypted only when their turn comes, so a working agent means no passphrase prompt;
 * and once per run (`files`), however many hosts offer them.
 */
export function authPlan(endpoint: Endpoint, context: ConnectContext, pause: PromptPause, files: RunFiles): AuthPlan {
  const tried: string[] = [];
  const refused: string[] = [];
  const username = endpoint.user;
  const attempts: Attempt[] = [];
  const agent = endpoint.agent;
  if (agent !== undefined && existsSync(agent)) {
    attempts.push(() => {
      tried.push(`ssh-agent (${agent})`);
      return Promise.resolve({ type: 'agent', username, agent });
    });
  }
  for (const file of endpoint.identityFiles) {
    attempts.push(async () => {
      const unsafe = await unprotected(file.path, files);
      if (unsafe) {
        context.warn(unsafe);
        refused.push(unsafe);
        return null;
      }
      const key = await loadKey(file.path, file.explicit, context, pause, files);
      if (!key) return null;
      tried.push(`key ${file.path}`);
      return { type: 'publickey', username, key };
    });
  }
  const handler: AuthHandlerMiddleware = (methodsLeft, _partialSuccess, next) => {
    // ssh2 stops on `false`; its typings only list method names.
    const stop = (): void => next(false as unknown as AuthenticationType);
    // methodsLeft is null on the first call; later it says what the server still accepts.
    if (Array.isArray(methodsLeft) && !methodsLeft.includes('publickey')) return stop();
    void (async () => {
      for (let attempt = attempts.shift(); attempt; attempt = attempts.shift()) {
        const method = await attempt().catch(() => null);
        if (method) return next(method);
      }
      stop();
    })();
  };
  return { handler, tried, refused };
}

const ENCRYPTED_RE = /no passphrase given/i;

/**
 * OpenSSH ignores a private key file of ours that others can read or write
 * ("UNPROTECTED PRIVATE KEY FILE!"); so do we, with its reason and the fix.
 */
async function unprotected(file: string, files: RunFiles): Promise<string | undefined> {
  const info = await files.keyStat(file);
  if (!info || (info.mode & 0o077) === 0 || info.uid !== process.getuid?.()) return undefined;
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  return `identity file ${file}: permissions ${mode} are too open; it is required that your private key files are NOT accessible by others. This private key will be ignored (fix: chmod 600 ${file})`;
}

async function loadKey(file: string, explicit: boolean, context: ConnectContext, pause: PromptPause, files: RunFiles): Promise<ParsedKey | null> {
  const read = await files.keyFile(file);
  if ('error' in read) {
    if (explicit) context.warn(`identity file ${file} cannot be read (${read.error.code ?? 'error'}); skipped`);
    return null;
  }
  let parsed = read.parsed;
  if (parsed instanceof Error && ENCRYPTED_RE.test(parsed.message)) {
    pause.pause();
    let passphrase: string | null;
    try {
      passphrase = await askOnce(context, `passphrase:${file}`, `Passphrase for ${file}: `);
    } finally {
      pause.resume();
    }
    if (passphrase === null) {
      context.warn(`identity file ${file} is encrypted and no passphrase can be asked (not a TTY); add it to ssh-agent. Skipped`);
      return null;
    }
    parsed = files.decrypt(file, read.data, passphrase);
    if (parsed instanceof Error) {
      // Not asked again: a second wrong guess would only repeat the failure.
      context.warn(`the passphrase for ${file} did not decrypt it; key skipped`);
      return null;
    }
  }
  if (parsed instanceof Error) {
    context.warn(`identity file ${file} is not a usable private key (${parsed.message}); skipped`);
    return null;
  }
  if (!parsed.isPrivateKey()) {
    context.warn(`identity file ${file} holds a public key, not a private one; skipped`);
    return null;
  }
  return parsed;
}
