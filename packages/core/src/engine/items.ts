import { z } from 'zod';
import type { Host } from '../protocols/host.js';
import type { AnyItemType, ItemMap } from '../protocols/item.js';
import type { RoleOutput, SiteConfig } from '../protocols/site.js';
import type { Task } from '../protocols/task.js';
import { isSecretRef, secret } from '../protocols/secrets.js';
import type { Registry } from '../registry.js';
import type { Redactor } from '../redact.js';
import { FettleError } from '../errors.js';
import { parseOrThrow } from '../schema.js';

const commonSchema = z.strictObject({
  needs: z.array(z.string()).optional(),
  needed_by: z.array(z.string()).optional(),
  triggers: z.array(z.string()).optional(),
  triggered: z.boolean().optional(),
  tags: z.array(z.string()).optional(),
  skip: z.boolean().optional(),
});
const COMMON_KEYS = new Set(Object.keys(commonSchema.shape));

export type Common = z.output<typeof commonSchema>;

/** An item of one host, validated and ready for the graph. */
export interface BuiltItem {
  readonly id: string;
  readonly typeName: string;
  readonly name: string;
  readonly type: AnyItemType;
  readonly attrs: unknown;
  readonly common: Common;
  /** The role that declared it, for messages. */
  readonly role: string;
  /** Any attribute came from a secret. */
  readonly usesSecrets: boolean;
}

export interface BuiltHost {
  readonly host: Host;
  readonly items: BuiltItem[];
  readonly tasks: { readonly role: string; readonly task: Task }[];
}

function isRoleOutput(value: RoleOutput | ItemMap): value is RoleOutput {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => key === 'items' || key === 'tasks');
}

/** Replace SecretRefs anywhere in attributes by their values, registering them for redaction. */
async function resolveSecrets(value: unknown, resolve: (name: string) => Promise<string>): Promise<unknown> {
  if (isSecretRef(value)) return resolve(value.name);
  if (Array.isArray(value)) return Promise.all(value.map((entry) => resolveSecrets(entry, resolve)));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = await Promise.all(
      Object.entries(value).map(async ([key, entry]) => [key, await resolveSecrets(entry, resolve)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

function containsSecret(value: unknown): boolean {
  if (isSecretRef(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecret);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsSecret);
  return false;
}

/**
 * Decrypt a secret for one host (the store may refuse a host that may not read it)
 * and register its value for redaction before anyone can print it.
 */
export function secretResolver(host: Host, site: SiteConfig, redactor: Redactor): (name: string) => Promise<string> {
  return async (name) => {
    if (!site.secrets) {
      throw new FettleError('E_SECRET', `secret '${name}' is used but the site has no secret store`, {
        where: `host ${host.name}`,
        hint: 'set `secrets:` in fettle.config.ts',
      });
    }
    const value = await site.secrets.get(name, host.name);
    redactor.add(name, value);
    return value;
  };
}

/**
 * Run a host's roles and validate every item against its type's schema. Every
 * error names the host, the role and the item.
 */
export async function buildHostItems(host: Host, site: SiteConfig, registry: Registry, redactor: Redactor): Promise<BuiltHost> {
  const items: BuiltItem[] = [];
  const tasks: BuiltHost['tasks'] = [];
  const seen = new Map<string, string>();
  const resolveSecret = secretResolver(host, site, redactor);
  for (const roleName of host.roles) {
    const role = site.roles[roleName];
    if (!role) {
      throw new FettleError('E_SITE', `host '${host.name}' has role '${roleName}', which the site does not define`, {
        where: `host ${host.name}`,
        expected: `one of ${Object.keys(site.roles).join(', ') || '(no roles)'}`,
      });
    }
    const output = await role(host, { secret });
    const normalized: RoleOutput = isRoleOutput(output) ? output : { items: output };
    for (const task of normalized.tasks ?? []) tasks.push({ role: roleName, task });
    for (const [id, rawAttrs] of Object.entries(normalized.items ?? {})) {
      const where = `host ${host.name}, role ${roleName}, item ${id}`;
      const colon = id.indexOf(':');
      if (colon <= 0 || colon === id.length - 1) {
        throw new FettleError('E_ITEM_TYPE', `item id '${id}' is not of the form type:name`, { where, expected: 'type:name, e.g. file:/etc/motd' });
      }
      const typeName = id.slice(0, colon);
      const name = id.slice(colon + 1);
      const type = registry.itemType(typeName);
      if (!type) {
        throw new FettleError('E_ITEM_TYPE', `unknown item type '${typeName}'`, {
          where,
          expected: `one of ${registry.itemTypeNames.join(', ') || '(no item types: add plugins to the site)'}`,
          hint: 'add the plugin that provides it to `plugins` in fettle.config.ts',
        });
      }
      const previous = seen.get(id);
      if (previous !== undefined) {
        throw new FettleError('E_DEPENDENCY', `item '${id}' is defined twice (roles ${previous} and ${roleName})`, { where });
      }
      seen.set(id, roleName);
      if (rawAttrs === null || typeof rawAttrs !== 'object' || Array.isArray(rawAttrs)) {
        throw new FettleError('E_ATTRIBUTE', 'attributes must be an object', { where });
      }
      const commonInput: Record<string, unknown> = {};
      const typeInput: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(rawAttrs)) (COMMON_KEYS.has(key) ? commonInput : typeInput)[key] = value;
      const common = parseOrThrow(commonSchema, { ...type.commonDefaults, ...commonInput }, 'E_ATTRIBUTE', where);
      const usesSecrets = containsSecret(typeInput);
      const resolved = usesSecrets ? await resolveSecrets(typeInput, resolveSecret) : typeInput;
      const attrs: unknown = parseOrThrow(type.attributes, resolved, 'E_ATTRIBUTE', where);
      const nameProblem = type.validateName?.(name);
      if (nameProblem) throw new FettleError('E_ATTRIBUTE', `bad item name '${name}': ${nameProblem}`, { where });
      items.push({ id, typeName, name, type, attrs, common, role: roleName, usesSecrets });
    }
  }
  return { host, items, tasks };
}
