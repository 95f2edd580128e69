import { entryText, entryTokens, type IniDocument, type IniEntry, type IniSection } from './ini.js';
import { inventoryError, listNames } from './problem.js';

/** The group every node belongs to, as in progfiguration. */
export const UNIVERSAL_GROUP = 'universal';
/** The fallback function: a node named in [groups] but not in [node_function_map] gets its roles. */
export const DEFAULT_ROLES_KEY = 'default';

/** What inventory.conf says, with the line each fact came from. */
export interface ParsedInventory {
  readonly file: string;
  /** Node → function, in file order. */
  readonly nodes: ReadonlyMap<string, { readonly function: string; readonly line: number }>;
  /** Group → members, in file order (without `universal`). */
  readonly groups: ReadonlyMap<string, { readonly members: readonly string[]; readonly line: number }>;
  /** Function → roles (with `default`, the fallback function). */
  readonly functions: ReadonlyMap<string, readonly string[]>;
  readonly defaultRoles: readonly string[];
  readonly controllerAgePath: string | undefined;
  readonly controllerAgePub: string | undefined;
  readonly nodeFallbackAgePath: string | undefined;
}

const GENERAL_KEYS = ['controller_age_path', 'controller_age_pub', 'node_fallback_age_path'] as const;
type GeneralKey = (typeof GENERAL_KEYS)[number];
/** `[secrets]` is the name older progfiguration sites use for `[general]`. */
const SECTIONS = ['general', 'secrets', 'groups', 'node_function_map', 'function_role_map'] as const;
type SectionName = (typeof SECTIONS)[number];

/** Names end up in selectors, file names (`nodes/<node>.json`) and role lookups. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const NAME_EXPECTED = 'a name of letters, digits, `_`, `.` and `-` (not starting with `.` or `-`)';

function checkName(file: string, line: number, name: string, what: string): void {
  if (!NAME.test(name)) throw inventoryError(file, line, `${what} '${name}' is not a valid name`, { expected: NAME_EXPECTED });
}

function isSectionName(name: string): name is SectionName {
  return (SECTIONS as readonly string[]).includes(name);
}

/** Turns the INI document into nodes, groups, functions and roles, checking every reference. */
export function interpretInventory(doc: IniDocument): ParsedInventory {
  const { file } = doc;
  const byName = new Map<SectionName, IniSection>();
  for (const section of doc.sections) {
    if (!isSectionName(section.name)) {
      throw inventoryError(file, section.line, `unknown section [${section.name}]`, {
        expected: 'one of [general], [groups], [node_function_map], [function_role_map]',
      });
    }
    byName.set(section.name, section);
  }
  const generalSection = byName.get('general');
  const secretsSection = byName.get('secrets');
  if (generalSection && secretsSection) {
    throw inventoryError(file, secretsSection.line, '[secrets] and [general] are both present', {
      expected: 'one of them ([secrets] is the older name of [general])',
    });
  }

  const general = readGeneral(file, generalSection ?? secretsSection);
  const { functions, defaultRoles } = readFunctions(file, byName.get('function_role_map'));
  const nodes = readNodes(file, byName.get('node_function_map'), functions);
  const groups = readGroups(file, byName.get('groups'), nodes, functions.has(DEFAULT_ROLES_KEY));

  return {
    file,
    nodes,
    groups,
    functions,
    defaultRoles,
    controllerAgePath: general.get('controller_age_path'),
    controllerAgePub: general.get('controller_age_pub'),
    nodeFallbackAgePath: general.get('node_fallback_age_path'),
  };
}

function readGeneral(file: string, section: IniSection | undefined): Map<GeneralKey, string> {
  const values = new Map<GeneralKey, string>();
  for (const entry of section?.entries ?? []) {
    const key = GENERAL_KEYS.find((known) => known === entry.key);
    if (!key) {
      throw inventoryError(file, entry.line, `unknown key '${entry.key}' in [${section?.name ?? 'general'}]`, {
        expected: `one of ${GENERAL_KEYS.join(', ')}`,
      });
    }
    const value = entryText(entry);
    if (value === '') {
      throw inventoryError(file, entry.line, `'${key}' has no value`, {
        expected: key === 'controller_age_pub' ? 'an age public key (age1…)' : 'a file path',
      });
    }
    values.set(key, value);
  }
  return values;
}

function readFunctions(
  file: string,
  section: IniSection | undefined,
): { functions: Map<string, readonly string[]>; defaultRoles: readonly string[] } {
  const functions = new Map<string, readonly string[]>();
  let defaultRoles: readonly string[] = [];
  for (const entry of section?.entries ?? []) {
    checkName(file, entry.line, entry.key, 'function');
    const roles = uniqueWords(file, entry, 'role');
    if (entry.key === DEFAULT_ROLES_KEY) defaultRoles = roles;
    // `default` stays a function too: progfiguration lets a node name it.
    functions.set(entry.key, roles);
  }
  return { functions, defaultRoles };
}

function readNodes(
  file: string,
  section: IniSection | undefined,
  functions: ReadonlyMap<string, readonly string[]>,
): Map<string, { function: string; line: number }> {
  const nodes = new Map<string, { function: string; line: number }>();
  const known = `a function defined in [function_role_map] (${listNames(functions.keys(), 'none is defined')})`;
  for (const entry of section?.entries ?? []) {
    checkName(file, entry.line, entry.key, 'node');
    const words = entryTokens(entry);
    const [first, second] = words;
    if (!first) {
      throw inventoryError(file, entry.line, `node '${entry.key}' has no function`, {
        expected: known,
        hint: `use \`${entry.key} = ${DEFAULT_ROLES_KEY}\` for a node that only needs the default roles`,
      });
    }
    if (second) {
      throw inventoryError(file, second.line, `node '${entry.key}' names ${words.length} functions (${words.map((w) => w.text).join(', ')})`, {
        expected: 'exactly one function per node',
        hint: 'make a function in [function_role_map] that lists the roles of both',
      });
    }
    if (!functions.has(first.text)) {
      throw inventoryError(file, first.line, `node '${entry.key}' has unknown function '${first.text}'`, { expected: known });
    }
    nodes.set(entry.key, { function: first.text, line: entry.line });
  }
  return nodes;
}

function readGroups(
  file: string,
  section: IniSection | undefined,
  nodes: Map<string, { function: string; line: number }>,
  hasDefault: boolean,
): Map<string, { members: readonly string[]; line: number }> {
  const groups = new Map<string, { members: readonly string[]; line: number }>();
  for (const entry of section?.entries ?? []) {
    checkName(file, entry.line, entry.key, 'group');
    if (entry.key === UNIVERSAL_GROUP) {
      throw inventoryError(file, entry.line, `group '${UNIVERSAL_GROUP}' is built in (every node is a member)`, {
        expected: 'another group name',
      });
    }
    const members = uniqueWords(file, entry, 'node');
    for (const token of entryTokens(entry)) {
      if (nodes.has(token.text)) continue;
      // progfiguration's fallback: a node with no function of its own gets the `default` function.
      if (hasDefault) {
        nodes.set(token.text, { function: DEFAULT_ROLES_KEY, line: token.line });
        continue;
      }
      throw inventoryError(file, token.line, `group '${entry.key}' names unknown node '${token.text}'`, {
        expected: `a node listed in [node_function_map] (${listNames(nodes.keys(), 'none is listed')})`,
        hint: `add \`${token.text} = FUNCTION\` to [node_function_map], or a \`${DEFAULT_ROLES_KEY} = ROLES\` function for nodes without one`,
      });
    }
    groups.set(entry.key, { members, line: entry.line });
  }
  return groups;
}

function uniqueWords(file: string, entry: IniEntry, what: string): string[] {
  const words: string[] = [];
  for (const token of entryTokens(entry)) {
    checkName(file, token.line, token.text, what);
    if (!words.includes(token.text)) words.push(token.text);
  }
  return words;
}
