import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { FettleError } from '@fettle/core';
import { ageSecretStore, type AgeSecretStore, type AgeSecretStoreOptions } from './index.js';

/** Runs a program synchronously (age, age-keygen) and fails the test on a non-zero exit. */
export function run(command: string, args: readonly string[], input?: string | Uint8Array): Buffer {
  const result = spawnSync(command, args, { input });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr.toString()}`);
  return result.stdout;
}

/** A key made by the real `age-keygen`, in a 0600 file. */
export async function cliKey(dir: string, name: string): Promise<{ file: string; identity: string; recipient: string }> {
  const file = path.join(dir, `${name}.key`);
  run('age-keygen', ['-o', file]);
  await chmod(file, 0o600);
  const identity = run('grep', ['^AGE-SECRET-KEY-1', file]).toString().trim();
  const recipient = run('age-keygen', ['-y', file]).toString().trim();
  return { file, identity, recipient };
}

export interface TestSite {
  readonly dir: string;
  readonly controller: { file: string; identity: string; recipient: string };
  readonly store: AgeSecretStore;
  /** Makes a host key with age-keygen and registers its public key with the store. */
  host(name: string): Promise<{ file: string; identity: string; recipient: string }>;
}

/** A temp folder removed when the current test finishes. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function testSite(options: Partial<AgeSecretStoreOptions> = {}): Promise<TestSite> {
  const dir = await tempDir('fettle-age-');
  const controller = await cliKey(dir, 'controller');
  const store = ageSecretStore({ dir, controllerRecipient: controller.recipient, keySource: { file: controller.file }, ...options });
  return {
    dir,
    controller,
    store,
    async host(name) {
      const key = await cliKey(dir, `host-${name}`);
      await store.setHostRecipient(name, key.recipient);
      return key;
    },
  };
}

/** The FettleError a promise rejects with (fails the test if it resolves or throws anything else). */
export async function failure(promise: Promise<unknown>): Promise<FettleError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof FettleError)) throw new Error(`expected a FettleError, got ${String(error)}`);
  return error;
}
