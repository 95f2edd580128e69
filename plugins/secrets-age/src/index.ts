export { AgeSecretStore, ageSecretStore, groupsOf } from './store.js';
export type { AgeSecretStoreOptions, GroupMembers, GroupResolver, RekeyResult, SecretListing } from './store.js';
export type { StoredReaders } from './readers.js';
export { generateKeyPair, recipientOf, writeIdentityFile, type AgeKeyPair, type KeySource } from './keys.js';
export {
  editInEditor,
  editSecret,
  hostKeySecretName,
  keygenController,
  keygenHost,
  listSecrets,
  printSecret,
  readSecretValue,
  rekeySecrets,
  setSecret,
  type EditorEnv,
  type ValueInput,
} from './commands.js';
export { createSecretCommand, secretCommand, type SecretCommandIO } from './cli.js';
export { plugin as default } from './plugin.js';
