import { definePlugin, parseOrThrow, z, type Plugin, type SecretStore, type StoreDefinition } from '@fettle/core';
import pkg from '../package.json' with { type: 'json' };
import { secretCommand } from './cli.js';
import { ageSecretStore, type GroupResolver } from './store.js';

const optionsSchema = z.strictObject({
  controllerRecipient: z.string().min(1),
  keySource: z.union([z.strictObject({ file: z.string().min(1) }), z.strictObject({ command: z.string().min(1) })]).optional(),
  groups: z
    .union([
      z.record(z.string(), z.array(z.string())),
      z.custom<GroupResolver>((value) => typeof value === 'function', { message: 'expected a group → members record or a resolver function' }),
    ])
    .optional(),
  armor: z.boolean().optional(),
  secretsDir: z.string().min(1).optional(),
  hostKeysDir: z.string().min(1).optional(),
  keyCommandTimeoutMs: z.number().int().positive().optional(),
});

/** `secretStores: [{ name: 'age', … }]`: the store by name, rooted at the site folder. */
export const ageStoreDefinition: StoreDefinition<SecretStore> = {
  name: 'age',
  description: 'secrets in secrets/<name>.age, encrypted with age X25519 keys to the controller and the reader hosts',
  create(options, { siteDir }) {
    const parsed = parseOrThrow(optionsSchema, options, 'E_SECRET', 'age secret store options');
    return Promise.resolve(ageSecretStore({ ...parsed, dir: siteDir }));
  },
};

export const plugin: Plugin = definePlugin({
  name: '@fettle/secrets-age',
  version: pkg.version,
  secretStores: [ageStoreDefinition],
  commands: [secretCommand],
});
