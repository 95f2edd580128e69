import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { atomicWrite } from './atomic.js';
import { messageOf, secretError } from './problem.js';

/**
 * Where a private key comes from: a file only its owner can read, or a command
 * that prints it (a password manager, say: `pass show fettle/controller`).
 */
export type KeySource = { readonly file: string } | { readonly command: string };

/** An age X25519 key pair. */
export interface AgeKeyPair {
  /** `AGE-SECRET-KEY-1…` */
  readonly identity: string;
  /** `age1…` */
  readonly recipient: string;
}

// Bech32 data characters; X25519 keys are 32 bytes, so 52 data + 6 checksum characters.
const X25519_RECIPIENT = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/;
const PQ_NOTE = "post-quantum age keys are not supported: Debian's age 1.1.1 cannot encrypt to them";

/** Throws unless `value` is an age X25519 public key (`age1…`, 62 characters). */
export function checkRecipient(value: string, where: string, hint?: string): string {
  const trimmed = value.trim();
  if (X25519_RECIPIENT.test(trimmed)) return trimmed;
  const shown = trimmed.length > 70 ? `${trimmed.slice(0, 20)}…` : trimmed;
  throw secretError(trimmed.startsWith('age1pq1') ? PQ_NOTE : `'${shown}' is not an age X25519 public key`, {
    where,
    expected: 'an age X25519 public key: age1 followed by 58 characters',
    ...(hint === undefined ? {} : { hint }),
  });
}

/**
 * The identities in a key file's text (the lines starting with `AGE-SECRET-KEY-`,
 * as `age-keygen -o` writes them). Errors name line numbers, never the key.
 */
export function parseIdentities(text: string, where: string): string[] {
  const identities: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line.startsWith('AGE-SECRET-KEY-')) return;
    if (line.startsWith('AGE-SECRET-KEY-PQ-')) throw secretError(PQ_NOTE, { where: `${where}, line ${index + 1}`, expected: 'an X25519 identity (AGE-SECRET-KEY-1…)' });
    if (!X25519_IDENTITY.test(line)) {
      throw secretError('malformed age identity', { where: `${where}, line ${index + 1}`, expected: 'AGE-SECRET-KEY-1 followed by 58 characters' });
    }
    identities.push(line);
  });
  if (identities.length === 0) {
    throw secretError('no age identity found', {
      where,
      expected: 'a line starting with AGE-SECRET-KEY-1 (as age-keygen writes it)',
    });
  }
  return identities;
}

/**
 * Where the controller key lives when the site does not say: a per-user folder
 * outside every site (`$XDG_CONFIG_HOME/fettle/`, else `~/.config/fettle/`), so a
 * private key is never committed with the site.
 */
export function defaultControllerKeyFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const config = env['XDG_CONFIG_HOME'] && path.isAbsolute(env['XDG_CONFIG_HOME']) ? env['XDG_CONFIG_HOME'] : path.join(env['HOME'] || homedir(), '.config');
  return path.join(config, 'fettle', 'controller.key');
}

/** `~/x` is in the home folder; other relative paths are relative to `base`. */
export function resolvePath(base: string, file: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(homedir(), file.slice(1));
  return path.resolve(base, file);
}

export function describeSource(source: KeySource, base: string): string {
  return 'file' in source ? `key file ${resolvePath(base, source.file)}` : `key command \`${source.command}\``;
}

/** Reads identities from a key source. `base` resolves a relative key file path. */
export async function loadIdentities(source: KeySource, base: string, timeoutMs = 120_000): Promise<string[]> {
  if ('file' in source) {
    const file = resolvePath(base, source.file);
    let mode: number;
    try {
      mode = (await stat(file)).mode;
    } catch (error) {
      throw secretError(`cannot read the key file: ${messageOf(error)}`, {
        where: file,
        expected: 'an age identity file',
        hint: 'create one with `fettle secret keygen --out FILE` (or `age-keygen -o FILE`)',
      });
    }
    if ((mode & 0o077) !== 0) {
      throw secretError(`key file is open to other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`, {
        where: file,
        expected: 'mode 0600 (readable by its owner only)',
        hint: `chmod 600 ${file}`,
      });
    }
    return parseIdentities(await readFile(file, 'utf8'), file);
  }
  const where = `key command \`${source.command}\``;
  return parseIdentities(await runKeyCommand(source.command, timeoutMs, where), where);
}

/**
 * Runs the command with the user's terminal on stdin and stderr (so a password
 * manager can prompt) and captures stdout, which is never put in an error.
 */
function runKeyCommand(command: string, timeoutMs: number, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['inherit', 'pipe', 'inherit'], timeout: timeoutMs });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error) => reject(secretError(`cannot run the key command: ${error.message}`, { where, expected: 'a command that prints an age identity' })));
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      if (code === 0) return resolve(output);
      const how = signal ? `was stopped by ${signal}${signal === 'SIGTERM' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exited with code ${code}`;
      reject(secretError(`the key command ${how}`, { where, expected: 'a command that prints an age identity and exits 0' }));
    });
  });
}

/** A new X25519 key pair (never post-quantum: the age CLI on Debian cannot use those). */
export async function generateKeyPair(): Promise<AgeKeyPair> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The public key of an identity. */
export function recipientOf(identity: string): Promise<string> {
  return identityToRecipient(identity);
}

/**
 * Writes an identity file the way `age-keygen -o` does (comments, then the key),
 * with mode 0600. Refuses to replace an existing file unless `force`.
 */
export async function writeIdentityFile(file: string, pair: AgeKeyPair, options: { force?: boolean } = {}): Promise<void> {
  if (!options.force) {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw secretError('the key file already exists', {
        where: file,
        expected: 'a path where no key is yet',
        hint: 'pass --force to replace it (secrets encrypted to the old key then need `fettle secret rekey` from a machine that has it)',
      });
    }
  }
  const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await atomicWrite(file, `# created: ${created}\n# public key: ${pair.recipient}\n${pair.identity}\n`, 0o600);
}
