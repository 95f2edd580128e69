/**
 * Helpers for this package's tests (not exported from index.ts): hosts, a local
 * connect, fixture reading and a small JSON Schema checker.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connectHost, Registry, UnreachableError, type Host, type Plugin, type Transport } from '@fettle/core';
import local from '@fettle/transport-local';
import type { Connect } from './fleet.js';

export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

export function host(name: string, transport = 'local', transportOptions: Record<string, unknown> = {}, vars: Record<string, unknown> = {}): Host {
  return { name, transport, transportOptions, groups: [], roles: [], vars, readonly: false };
}

/** Connect through the registry of the given plugins, the way the CLI does. */
export function registryConnect(plugins: readonly Plugin[] = [local], warnings: string[] = []): Connect {
  const registry = new Registry(plugins);
  return (h) => connectHost(registry, h, { siteDir: tmpdir(), warn: (message) => warnings.push(`${h.name}: ${message}`) });
}

/** A connect that fails the named hosts with UnreachableError, and counts connections. */
export function faultyConnect(inner: Connect, failures: Readonly<Record<string, UnreachableError['reason']>>, counts: Map<string, number> = new Map()): Connect {
  return async (h): Promise<Transport> => {
    counts.set(h.name, (counts.get(h.name) ?? 0) + 1);
    const reason = failures[h.name];
    if (reason) throw new UnreachableError(reason, `${h.name}: simulated ${reason}`);
    return inner(h);
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;

/**
 * A deliberately small JSON Schema (2020-12) checker covering what zod's
 * toJSONSchema emits here: type, enum, const, properties, required,
 * additionalProperties, items, anyOf, minimum/maximum, pattern. Returns the
 * problems found, as `path: message`.
 */
export function checkJsonSchema(schema: Schema, value: unknown, at = '$'): string[] {
  const problems: string[] = [];
  const v = value as Json;
  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? (type as string[]) : [type as string];
    if (!types.some((t) => matchesType(t, v))) return [`${at}: expected ${types.join('|')}, got ${JSON.stringify(v)?.slice(0, 60)}`];
  }
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).includes(v)) problems.push(`${at}: not one of ${JSON.stringify(schema['enum'])}`);
  if ('const' in schema && schema['const'] !== v) problems.push(`${at}: expected ${JSON.stringify(schema['const'])}`);
  if (typeof v === 'number') {
    if (typeof schema['minimum'] === 'number' && v < schema['minimum']) problems.push(`${at}: below minimum`);
    if (typeof schema['maximum'] === 'number' && v > schema['maximum']) problems.push(`${at}: above maximum`);
  }
  if (typeof v === 'string' && typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern'], 'u').test(v)) problems.push(`${at}: does not match pattern`);
  if (Array.isArray(schema['anyOf'])) {
    const options = schema['anyOf'] as Schema[];
    if (!options.some((option) => checkJsonSchema(option, v, at).length === 0)) problems.push(`${at}: matches none of anyOf`);
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const key of (schema['required'] ?? []) as string[]) if (!(key in v)) problems.push(`${at}: missing ${key}`);
    for (const [key, item] of Object.entries(v)) {
      const sub = properties[key];
      if (sub) problems.push(...checkJsonSchema(sub, item, `${at}.${key}`));
      else if (schema['additionalProperties'] === false) problems.push(`${at}: unexpected property ${key}`);
      else if (typeof schema['additionalProperties'] === 'object') problems.push(...checkJsonSchema(schema['additionalProperties'] as Schema, item, `${at}.${key}`));
    }
  }
  if (Array.isArray(v) && typeof schema['items'] === 'object') {
    v.forEach((item, index) => problems.push(...checkJsonSchema(schema['items'] as Schema, item, `${at}[${index}]`)));
  }
  return problems;
}

function matchesType(type: string, v: Json): boolean {
  switch (type) {
    case 'null':
      return v === null;
    case 'integer':
      return Number.isInteger(v);
    case 'array':
      return Array.isArray(v);
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    default:
      return typeof v === type;
  }
}

/** Counts of what a connect wrapper saw, per host. */
export interface Counts {
  connects: Map<string, number>;
  execs: Map<string, string[]>;
}

/**
 * Wrap a connect: count connections and commands per host and, for hosts named in
 * `asUser`, run every command as that user through runuser (a real non-root login).
 */
export function countingConnect(inner: Connect, asUser: Readonly<Record<string, string>> = {}): { connect: Connect; counts: Counts } {
  const counts: Counts = { connects: new Map(), execs: new Map() };
  const connect: Connect = async (h) => {
    counts.connects.set(h.name, (counts.connects.get(h.name) ?? 0) + 1);
    const transport = await inner(h);
    const user = asUser[h.name];
    return {
      ...transport,
      exec(command, options) {
        counts.execs.set(h.name, [...(counts.execs.get(h.name) ?? []), command]);
        return transport.exec(user ? `runuser -u ${user} -- ${command}` : command, options);
      },
    };
  };
  return { connect, counts };
}
