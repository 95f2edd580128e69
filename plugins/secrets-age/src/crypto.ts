import { armor, Decrypter, Encrypter } from 'age-encryption';

const ARMOR_HEADER = '-----BEGIN AGE ENCRYPTED FILE-----';
const AGE_HEADER = 'age-encryption.org/';

/** True when the file is ASCII-armored (the age CLI's `-a`); leading whitespace is allowed. */
export function isArmored(file: Uint8Array): boolean {
  const head = Buffer.from(file.subarray(0, 128)).toString('latin1').trimStart();
  return head.startsWith(ARMOR_HEADER);
}

/** Encrypts bytes (or text, as UTF-8) to every recipient; armored text or binary bytes. */
export async function encryptTo(value: string | Uint8Array, recipients: readonly string[], armored: boolean): Promise<string | Uint8Array> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const bytes = await encrypter.encrypt(value);
  return armored ? armor.encode(bytes) : bytes;
}

/** Why a file could not be decrypted, each with its own explanation. */
export type DecryptProblem = 'not-age' | 'truncated' | 'other-keys';

export class DecryptError extends Error {
  readonly problem: DecryptProblem;
  constructor(problem: DecryptProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

/**
 * Decrypts with any of the identities, to bytes. The age-encryption Decrypter does
 * not detect armor (it fails with "invalid version -----BEGIN…"), so decode it first.
 * Failures are sorted into what the user must do about them.
 */
export async function decryptWith(file: Uint8Array, identities: readonly string[]): Promise<Uint8Array> {
  let bytes = file;
  if (isArmored(file)) {
    try {
      bytes = armor.decode(Buffer.from(file).toString('latin1'));
    } catch (error) {
      throw new DecryptError('truncated', `the armored file is truncated or damaged (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (!Buffer.from(bytes.subarray(0, AGE_HEADER.length)).toString('latin1').startsWith(AGE_HEADER)) {
    throw new DecryptError('not-age', 'not an age file (no age-encryption.org header)');
  }
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    return await decrypter.decrypt(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes('no identity matched')) throw new DecryptError('other-keys', message);
    throw new DecryptError('truncated', `the file is truncated or damaged (${message})`);
  }
}
