import { armor, Decrypter, Encrypter } from 'age-encryption';

const ARMOR_HEADER = '-----BEGIN AGE ENCRYPTED FILE-----';

/** True when the file is ASCII-armored (the age CLI's `-a`); leading whitespace is allowed. */
export function isArmored(file: Uint8Array): boolean {
  const head = Buffer.from(file.subarray(0, 128)).toString('latin1').trimStart();
  return head.startsWith(ARMOR_HEADER);
}

/** Encrypts to every recipient; armored text or binary bytes. */
export async function encryptTo(value: string, recipients: readonly string[], armored: boolean): Promise<string | Uint8Array> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const bytes = await encrypter.encrypt(value);
  return armored ? armor.encode(bytes) : bytes;
}

/**
 * Decrypts with any of the identities. The age-encryption Decrypter does not
 * detect armor (it fails with "invalid version -----BEGIN…"), so decode it first.
 */
export async function decryptWith(file: Uint8Array, identities: readonly string[]): Promise<string> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  const bytes = isArmored(file) ? armor.decode(Buffer.from(file).toString('latin1')) : file;
  return decrypter.decrypt(bytes, 'text');
}
