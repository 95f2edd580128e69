import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SecretReaders } from '@fettle/core';
import { atomicWrite, readTextIfExists } from './atomic.js';
import { generateKeyPair, resolvePath, writeIdentityFile, type AgeKeyPair } from './keys.js';
import { secretError } from './problem.js';
import type { AgeSecretStore, RekeyResult, SecretListing } from './store.js';

/** Environment variables the editor is chosen from (VISUAL, then EDITOR, then vi). */
export type EditorEnv = Readonly<Record<string, string | undefined>>;

/** Where a new secret value comes from: stdin when piped, else the editor. */
export interface ValueInput {
  readonly stdin: AsyncIterable<string | Uint8Array>;
  readonly stdinIsTTY: boolean;
  readonly env: EditorEnv;
  /** Keep the value byte for byte (by default one trailing newline is dropped, as `$(…)` does). */
  readonly raw?: boolean | undefined;
  /** Folder for the editor's private temp folder (default: the OS temp folder). */
  readonly tmpDir?: string | undefined;
}

function dropFinalNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** The same for bytes: a binary secret is never decoded as text on its way in. */
function dropFinalNewlineBytes(bytes: Buffer): Buffer {
  if (bytes.length >= 2 && bytes[bytes.length - 2] === 0x0d && bytes[bytes.length - 1] === 0x0a) return bytes.subarray(0, -2);
  return bytes[bytes.length - 1] === 0x0a ? bytes.subarray(0, -1) : bytes;
}

/** All of a stream, as bytes. */
export async function readAll(stream: AsyncIterable<string | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Opens `initial` in the user's editor and returns what was saved. The file sits
 * in a fresh mkdtemp folder (mode 0700) with mode 0600, and the folder is
 * removed afterwards, whatever happens.
 */
export async function editInEditor(initial: string, options: { readonly env: EditorEnv; readonly tmpDir?: string | undefined }): Promise<string> {
  const editor = options.env.VISUAL || options.env.EDITOR || 'vi';
  const dir = await mkdtemp(path.join(options.tmpDir ?? tmpdir(), 'fettle-secret-'));
  try {
    const file = path.join(dir, 'secret.txt');
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(initial);
    } finally {
      await handle.close();
    }
    // Through sh, so EDITOR may carry arguments ("code --wait"); the file is "$1".
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('sh', ['-c', `${editor} "$1"`, 'fettle-editor', file], { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) {
      throw secretError(`the editor exited with code ${code}; nothing was saved`, {
        where: `editor \`${editor}\``,
        expected: 'the editor to exit 0 after saving',
        hint: 'set VISUAL or EDITOR to an editor that waits until the file is closed',
      });
    }
    return await readFile(file, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new value: all of stdin (bytes, exactly) when it is piped, else what the user types in the editor. */
export async function readSecretValue(input: ValueInput): Promise<Uint8Array> {
  if (input.stdinIsTTY) {
    const text = await editInEditor('', input);
    return Buffer.from(input.raw ? text : dropFinalNewline(text), 'utf8');
  }
  const bytes = await readAll(input.stdin);
  return input.raw ? bytes : dropFinalNewlineBytes(bytes);
}

/**
 * Generates the controller key and writes it (mode 0600) to `out`, or returns the
 * identity for the caller to print when `out` is `-`. A key written inside the site
 * folder (usually a git repository) is added to the site's `.gitignore`.
 */
export async function keygenController(options: {
  readonly out: string;
  readonly force?: boolean | undefined;
  readonly base?: string | undefined;
  /** The site folder, to keep a key written inside it out of git. */
  readonly siteDir?: string | undefined;
}): Promise<AgeKeyPair & { readonly path: string | undefined; readonly gitignore: string | undefined }> {
  const pair = await generateKeyPair();
  if (options.out === '-') return { ...pair, path: undefined, gitignore: undefined };
  const file = resolvePath(options.base ?? process.cwd(), options.out);
  await writeIdentityFile(file, pair, { force: options.force });
  const gitignore = options.siteDir === undefined ? undefined : await ignoreInSite(options.siteDir, file);
  return { ...pair, path: file, gitignore };
}

/** Adds a file inside the site to the site's `.gitignore`; returns the .gitignore path when it added it. */
async function ignoreInSite(siteDir: string, file: string): Promise<string | undefined> {
  const relative = path.relative(path.resolve(siteDir), file);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const entry = `/${relative.split(path.sep).join('/')}`;
  const gitignore = path.join(siteDir, '.gitignore');
  const current = (await readTextIfExists(gitignore)) ?? '';
  if (current.split('\n').some((line) => line.trim() === entry || line.trim() === entry.slice(1))) return undefined;
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  await atomicWrite(gitignore, `${current}${separator}# the controller's private age key: never commit it\n${entry}\n`, 0o644);
  return gitignore;
}

/** The secret that holds a host's own identity, so a role can install it on the host. */
export function hostKeySecretName(host: string): string {
  return `host-key.${host}`;
}

/**
 * Generates a host key: the public key goes to `keys/hosts/<host>.pub`, the
 * identity into the secret `host-key.<host>` (readable by the controller and that
 * host, so a role can place it at node_fallback_age_path), and to `out` if given.
 */
export async function keygenHost(
  store: AgeSecretStore,
  host: string,
  options: { readonly force?: boolean | undefined; readonly out?: string | undefined } = {},
): Promise<{ readonly recipient: string; readonly secret: string; readonly path: string | undefined }> {
  const keyFile = store.hostKeyPath(host);
  if (!options.force && (await store.hostRecipient(host).catch(() => 'unreadable')) !== undefined) {
    throw secretError(`host '${host}' already has a key`, {
      where: keyFile,
      expected: 'a host without a key',
      hint: 'pass --force to replace it, then run `fettle secret rekey` so secrets use the new key',
    });
  }
  const pair = await generateKeyPair();
  const out = options.out === undefined ? undefined : resolvePath(process.cwd(), options.out);
  if (out !== undefined) await writeIdentityFile(out, pair, { force: options.force });
  await store.setHostRecipient(host, pair.recipient);
  const secret = hostKeySecretName(host);
  await store.set(secret, `${pair.identity}\n`, { hosts: [host] });
  return { recipient: pair.recipient, secret, path: out };
}

/** `fettle secret set`: the value from stdin or the editor, never from the command line. */
export async function setSecret(store: AgeSecretStore, name: string, input: ValueInput, readers?: SecretReaders): Promise<void> {
  store.secretPath(name); // check the name before asking for a value
  const value = await readSecretValue(input);
  await store.set(name, value, readers);
}

/** `fettle secret get`: the plaintext, byte for byte, on the given stream. */
export async function printSecret(store: AgeSecretStore, name: string, stdout: NodeJS.WritableStream): Promise<void> {
  const value = await store.getBytes(name);
  await new Promise<void>((resolve, reject) => stdout.write(value, (error) => (error ? reject(error) : resolve())));
}

/**
 * `fettle secret edit`: decrypts into the editor and stores the result for the
 * same readers. Returns false (and writes nothing) when nothing changed.
 */
export async function editSecret(store: AgeSecretStore, name: string, options: { readonly env: EditorEnv; readonly tmpDir?: string | undefined }): Promise<boolean> {
  const before = await store.get(name);
  let after = await editInEditor(before, options);
  // Editors add a final newline on save; keep the value's own ending.
  if (!before.endsWith('\n')) after = dropFinalNewline(after);
  if (after === before) return false;
  await store.set(name, after);
  return true;
}

export function listSecrets(store: AgeSecretStore): Promise<readonly SecretListing[]> {
  return store.listWithReaders();
}

export function rekeySecrets(store: AgeSecretStore): Promise<readonly RekeyResult[]> {
  return store.rekey();
}
