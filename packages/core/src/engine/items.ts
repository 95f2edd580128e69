import { z } from 'zod';
import type { Host } from '../protocols/host.js';
import type { AnyItemType, ItemMap } from '../protocols/item.js';
import type { RoleOutput, SiteConfig } from '../protocols/site.js';
import type { Task } from '../protocols/task.js';
import { secret } from '../protocols/secrets.js';
import type { Registry } from '../registry.js';
import type { Redactor } from '../redact.js';
import { FettleError, isFettleError } from '../errors.js';
import { parseOrThrow } from '../schema.js';
import { containsSecret, resolveSecrets, secretResolver, secretValueResolver, withPlace } from './item-secrets.js';

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
  /** Any attribute holds a secret (whole or inside a string): the item shows no content, and writes files 0600. */
  readonly usesSecrets: boolean;
}

export interface BuiltHost {
  readonly host: Host;
  readonly items: BuiltItem[];
  readonly tasks: { readonly role: string; readonly task: Task }[];
}

/** What the caller knows about where the site's code lives, for messages that name a source line. */
export interface PrepareOptions {
  /**
   * The source place (`file:line`) of a role, or of the line in the site that
   * threw `error` while running it; undefined when unknown.
   */
  readonly locateRole?: ((role: string, error?: unknown) => string | undefined) | undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);

function isRoleOutput(value: Record<string, unknown>): boolean {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => key === 'items' || key === 'tasks');
}

function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return typeof value === 'object' ? `a ${proto?.constructor?.name ?? 'object'}` : `a ${typeof value}`;
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const hasControlCharacter = (text: string): boolean => /[\u0000-\u001f\u007f]/.test(text);

/** Run one role for one host; an exception or a result that is not an item map names host, role and source line. */
async function runRole(host: Host, roleName: string, site: SiteConfig, options: PrepareOptions): Promise<RoleOutput> {
  const role = site.roles[roleName];
  if (!role) {
    throw new FettleError('E_SITE', `host '${host.name}' has role '${roleName}', which the site does not define`, {
      where: `host ${host.name}`,
      expected: `one of ${Object.keys(site.roles).join(', ') || '(no roles)'}`,
    });
  }
  const place = (error?: unknown): string => {
    const at = options.locateRole?.(roleName, error);
    return `host ${host.name}, role ${roleName}${at ? ` (${at})` : ''}`;
  };
  let output: unknown;
  try {
    output = await role(host, { secret });
  } catch (error) {
    if (isFettleError(error)) throw error;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new FettleError('E_ROLE', `role '${roleName}' threw ${message}`, { where: place(error), cause: error });
  }
  const expected = 'an item map ({ "type:name": { ...attributes } }) or { items, tasks }';
  if (!isPlainObject(output)) {
    throw new FettleError('E_ROLE', `role '${roleName}' returned ${describeValue(output)}`, { where: place(), expected, hint: 'does the role function end with `return { ... }`?' });
  }
  if (!isRoleOutput(output)) return { items: output as ItemMap };
  const { items, tasks } = output as { items?: unknown; tasks?: unknown };
  if (items !== undefined && !isPlainObject(items)) throw new FettleError('E_ROLE', `role '${roleName}' returned items that are ${describeValue(items)}`, { where: place(), expected });
  if (tasks !== undefined && !Array.isArray(tasks)) throw new FettleError('E_ROLE', `role '${roleName}' returned tasks that are ${describeValue(tasks)}`, { where: place(), expected: 'an array of tasks' });
  return output;
}

/** Validate an item's attributes; a message quoting a secret's value shows its name instead. */
function parseAttributes(type: AnyItemType, input: Record<string, unknown>, where: () => string, redactor: Redactor, tainted: boolean): unknown {
  const quick = type.quickParse?.(input);
  if (quick !== undefined) return quick;
  const parsed = type.attributes.safeParse(input);
  if (parsed.success) return parsed.data;
  try {
    return parseOrThrow(type.attributes, input, 'E_ATTRIBUTE', where());
  } catch (error) {
    if (!tainted || !(error instanceof FettleError)) throw error;
    throw new FettleError(error.code, redactor.scrub(error.message), { where: where(), hint: 'the value comes from a secret, so it is not shown' });
  }
}

/** An item's common attributes (needs, triggers, …) apart from its type's, copying nothing when it has none. */
function splitAttributes(raw: Record<string, unknown>): { commonInput: Record<string, unknown> | undefined; typeInput: Record<string, unknown> } {
  let hasCommon = false;
  for (const key in raw) {
    if (COMMON_KEYS.has(key)) {
      hasCommon = true;
      break;
    }
  }
  if (!hasCommon) return { commonInput: undefined, typeInput: raw };
  const commonInput: Record<string, unknown> = {};
  const typeInput: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) (COMMON_KEYS.has(key) ? commonInput : typeInput)[key] = value;
  return { commonInput, typeInput };
}

/** Most items set no common attribute: they share one parsed empty set instead of a parse each. */
const NO_COMMON: Common = Object.freeze({});

function commonAttributes(type: AnyItemType, input: Record<string, unknown> | undefined, where: () => string): Common {
  if (input === undefined && (type.commonDefaults === undefined || Object.keys(type.commonDefaults).length === 0)) return NO_COMMON;
  const parsed = commonSchema.safeParse({ ...type.commonDefaults, ...input });
  return parsed.success ? parsed.data : parseOrThrow(commonSchema, { ...type.commonDefaults, ...input }, 'E_ATTRIBUTE', where());
}

/**
 * Run a host's roles and validate every item against its type's schema. Every
 * error names the host, the role and the item.
 */
export async function buildHostItems(host: Host, site: SiteConfig, registry: Registry, redactor: Redactor, options: PrepareOptions = {}): Promise<BuiltHost> {
  const items: BuiltItem[] = [];
  const tasks: BuiltHost['tasks'] = [];
  const seen = new Map<string, string>();
  const resolveSecret = secretValueResolver(host, site, redactor);
  for (const roleName of host.roles) {
    const normalized = await runRole(host, roleName, site, options);
    const roleAt = options.locateRole?.(roleName);
    for (const task of normalized.tasks ?? []) tasks.push({ role: roleName, task });
    const declared = normalized.items ?? {};
    for (const id in declared) {
      if (!Object.hasOwn(declared, id)) continue;
      const rawAttrs: unknown = declared[id];
      // Made only for a message: a thousand hosts of a hundred items each need none of them.
      const where = (): string => `host ${host.name}, role ${roleName}${roleAt ? ` (${roleAt})` : ''}, item ${JSON.stringify(id).slice(1, -1)}`;
      if (hasControlCharacter(id)) {
        throw new FettleError('E_ITEM_TYPE', 'item id contains a control character (newline, tab, …)', { where: where(), expected: 'printable characters only', hint: 'a stray newline in a path, perhaps from a trimmed variable' });
      }
      const colon = id.indexOf(':');
      if (colon <= 0 || colon === id.length - 1) {
        throw new FettleError('E_ITEM_TYPE', `item id '${id}' is not of the form type:name`, { where: where(), expected: 'type:name, e.g. file:/etc/motd' });
      }
      const typeName = id.slice(0, colon);
      const name = id.slice(colon + 1);
      const type = registry.itemType(typeName);
      if (!type) {
        throw new FettleError('E_ITEM_TYPE', `unknown item type '${typeName}'`, {
          where: where(),
          expected: `one of ${registry.itemTypeNames.join(', ') || '(no item types: add plugins to the site)'}`,
          hint: 'add the plugin that provides it to `plugins` in fettle.config.ts',
        });
      }
      const previous = seen.get(id);
      if (previous !== undefined) {
        throw new FettleError('E_DEPENDENCY', `item '${id}' is defined twice (roles ${previous} and ${roleName})`, { where: where() });
      }
      seen.set(id, roleName);
      if (rawAttrs === null || typeof rawAttrs !== 'object' || Array.isArray(rawAttrs)) {
        throw new FettleError('E_ATTRIBUTE', 'attributes must be an object', { where: where() });
      }
      const { commonInput, typeInput } = splitAttributes(rawAttrs as Record<string, unknown>);
      if (commonInput && containsSecret(commonInput)) {
        throw new FettleError('E_ATTRIBUTE', 'common attributes (needs, triggers, tags, …) cannot hold secrets', { where: where() });
      }
      const common = commonAttributes(type, commonInput, where);
      const usesSecrets = containsSecret(typeInput);
      const resolved = usesSecrets ? ((await resolveSecrets(typeInput, resolveSecret).catch((error: unknown) => { throw withPlace(error, where()); })) as Record<string, unknown>) : typeInput;
      const attrs = parseAttributes(type, resolved, where, redactor, usesSecrets);
      const nameProblem = type.validateName?.(name);
      if (nameProblem) throw new FettleError('E_ATTRIBUTE', `bad item name '${name}': ${nameProblem}`, { where: where() });
      items.push({ id, typeName, name, type, attrs, common, role: roleName, usesSecrets });
    }
  }
  return { host, items, tasks };
}

/**
 * Run every item type's `check` for one host's items: what can fail without a host
 * (a template that does not render, a source file that is not there) fails here,
 * before any host is contacted. Errors gain the host, role and item.
 */
export async function checkHostItems(built: BuiltHost, site: SiteConfig, siteDir: string, redactor: Redactor, options: PrepareOptions = {}): Promise<void> {
  const context = { host: built.host, siteDir, secret: secretResolver(built.host, site, redactor) };
  const placed = (item: BuiltItem, error: unknown): FettleError => {
    const at = options.locateRole?.(item.role);
    const where = `host ${built.host.name}, role ${item.role}${at ? ` (${at})` : ''}, item ${item.id}`;
    if (isFettleError(error)) {
      return new FettleError(error.isInputError ? error.code : 'E_ATTRIBUTE', error.message, {
        where: error.where ? `${error.where}, ${where}` : where,
        expected: error.expected,
        hint: error.hint,
        cause: error,
      });
    }
    return new FettleError('E_ATTRIBUTE', error instanceof Error ? error.message : String(error), { where, cause: error });
  };
  // The checks' own promises, awaited together: no async wrapper per item of every host
  // (most checks have nothing to look at and settle at once).
  const pending: Promise<void>[] = [];
  const items = built.items;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as BuiltItem;
    if (item.type.check === undefined) continue;
    let checking: Promise<void> | void;
    try {
      checking = item.type.check({ id: item.id, name: item.name, attrs: item.attrs, usesSecrets: item.usesSecrets }, context);
    } catch (error) {
      pending.push(Promise.reject(placed(item, error)));
      continue;
    }
    if (checking !== undefined) pending.push(Promise.resolve(checking).catch((error: unknown) => Promise.reject(placed(item, error))));
  }
  await Promise.all(pending);
}
