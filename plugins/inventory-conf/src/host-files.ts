import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeIssues, z } from '@fettle/core';
import { inventoryError, listNames } from './problem.js';

const connection = {
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  transport: z.string().min(1).optional(),
  transportOptions: z.record(z.string(), z.unknown()).optional(),
};
const vars = z.record(z.string(), z.unknown()).optional();

/** `groups/<group>.json`: vars and connection defaults for the group's members. */
export const groupFileSchema = z.strictObject({ ...connection, vars });
/** `nodes/<node>.json`: how to reach the node, its vars, and whether it is readonly. */
export const nodeFileSchema = z.strictObject({
  address: z.string().min(1).optional(),
  ...connection,
  vars,
  readonly: z.boolean().optional(),
});

export type GroupFile = z.output<typeof groupFileSchema>;
export type NodeFile = z.output<typeof nodeFileSchema>;

/** A parsed JSON file and where it is, so explainVars can name it. */
export interface SourcedFile<T> {
  readonly path: string;
  readonly data: T;
}

/**
 * Reads every `<name>.json` of a folder (a missing folder is an empty one). A file
 * whose name matches no group or node is an error rather than silently ignored:
 * it is almost always a typo, and its vars would otherwise never apply.
 */
export async function readJsonDir<S extends z.ZodType>(
  dir: string,
  schema: S,
  known: ReadonlySet<string>,
  kind: 'group' | 'node',
  inventoryFile: string,
): Promise<Map<string, SourcedFile<z.output<S>>>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw inventoryError(dir, undefined, `cannot list ${kind} files`, { expected: 'a readable folder', cause: error });
  }
  const files = new Map<string, SourcedFile<z.output<S>>>();
  for (const name of names.filter((entry) => entry.endsWith('.json')).sort()) {
    const base = name.slice(0, -'.json'.length);
    const file = path.join(dir, name);
    if (!known.has(base)) {
      const section = kind === 'group' ? '[groups]' : '[node_function_map]';
      throw inventoryError(file, 1, `'${name}' matches no ${kind} of ${inventoryFile}`, {
        expected: `a ${kind} listed in ${section} (${listNames(known, 'none is listed')})`,
        hint: `rename the file, or add the ${kind} to ${section}`,
      });
    }
    files.set(base, { path: file, data: await readJsonFile(file, schema, kind) });
  }
  return files;
}

async function readJsonFile<S extends z.ZodType>(file: string, schema: S, kind: 'group' | 'node'): Promise<z.output<S>> {
  const text = await readFile(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw inventoryError(file, jsonErrorLine(text, message), `invalid JSON: ${message}`, { expected: 'a JSON object', cause: error });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  // An unknown key is reported on the object, not on the key: point at the key.
  const key = first?.code === 'unrecognized_keys' ? first.keys[0] : first?.path[0];
  const expected =
    kind === 'group'
      ? 'an object with keys vars, user, port, transport, transportOptions'
      : 'an object with keys address, port, user, transport, transportOptions, vars, readonly';
  throw inventoryError(file, typeof key === 'string' ? keyLine(text, key) : 1, describeIssues(result.error, value).join('; '), {
    expected,
  });
}

/** V8 reports `position N` (and, in newer versions, the line): turn it into a line. */
function jsonErrorLine(text: string, message: string): number {
  const line = /line (\d+)/.exec(message);
  if (line?.[1]) return Number(line[1]);
  const position = /position (\d+)/.exec(message);
  const offset = position?.[1] ? Number(position[1]) : text.length;
  return text.slice(0, offset).split('\n').length;
}

/** The line where a top-level key is written, or 1 when it cannot be found. */
function keyLine(text: string, key: string): number {
  const index = text.indexOf(`${JSON.stringify(key)}`);
  return index < 0 ? 1 : text.slice(0, index).split('\n').length;
}
