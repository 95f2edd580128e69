import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExplainedVar, Host, HostStore, VarOrigin } from '@fettle/core';
import { groupFileSchema, nodeFileSchema, readJsonDir, type GroupFile, type NodeFile, type SourcedFile } from './host-files.js';
import { parseIni } from './ini.js';
import { interpretInventory, UNIVERSAL_GROUP, type ParsedInventory } from './inventory.js';
import { inventoryError, listNames } from './problem.js';

export interface InventoryConfOptions {
  /** Folder of `<group>.json` files. Default: `groups` beside inventory.conf. */
  readonly groupsDir?: string | undefined;
  /** Folder of `<node>.json` files. Default: `nodes` beside inventory.conf. */
  readonly nodesDir?: string | undefined;
  /** Transport of nodes whose files name none. Default: `ssh`. */
  readonly defaultTransport?: string | undefined;
}

/** The controller's age key as inventory.conf names it (`[general]`). */
export interface ControllerKey {
  /** `controller_age_path`, resolved against the inventory's folder (`~/` is the home folder). */
  readonly agePath: string | undefined;
  /** `controller_age_pub`, as written (checked by the secret store that uses it). */
  readonly agePublic: string | undefined;
}

export type { ExplainedVar, VarOrigin };

interface VarLayer {
  readonly source: string;
  readonly vars: Readonly<Record<string, unknown>>;
}

/**
 * A HostStore read from a progfiguration-style inventory.conf plus optional
 * `groups/<group>.json` and `nodes/<node>.json` files beside it. Everything is read
 * and checked once, when the store is loaded, so a mistake stops the run before
 * any host is touched.
 */
export class InventoryConfStore implements HostStore {
  readonly describe: string;
  /** Absolute path of inventory.conf. */
  readonly path: string;
  readonly controller: ControllerKey;
  /** `node_fallback_age_path`: where a node keeps its own age key (a path on the node, left as written). */
  readonly nodeFallbackKeyPath: string | undefined;
  /** Function → roles, from `[function_role_map]`. */
  readonly functions: Readonly<Record<string, readonly string[]>>;
  /** The roles of the `default` function: those of every node that has no function of its own. */
  readonly defaultRoles: readonly string[];
  readonly #hosts: readonly Host[];
  readonly #groups: Readonly<Record<string, readonly string[]>>;
  readonly #layers: ReadonlyMap<string, readonly VarLayer[]>;

  private constructor(
    file: string,
    inventory: ParsedInventory,
    groupFiles: ReadonlyMap<string, SourcedFile<GroupFile>>,
    nodeFiles: ReadonlyMap<string, SourcedFile<NodeFile>>,
    defaultTransport: string,
  ) {
    this.path = file;
    this.describe = `inventory.conf at ${file}`;
    this.controller = {
      agePath: inventory.controllerAgePath === undefined ? undefined : resolveControllerPath(file, inventory.controllerAgePath),
      agePublic: inventory.controllerAgePub,
    };
    this.nodeFallbackKeyPath = inventory.nodeFallbackAgePath;
    this.functions = Object.fromEntries(inventory.functions);
    this.defaultRoles = inventory.defaultRoles;

    const groups: Record<string, readonly string[]> = { [UNIVERSAL_GROUP]: [...inventory.nodes.keys()] };
    for (const [name, { members }] of inventory.groups) groups[name] = members;
    this.#groups = groups;

    const layers = new Map<string, VarLayer[]>();
    this.#hosts = [...inventory.nodes].map(([name, { function: fn }]) => {
      const memberOf = Object.keys(groups).filter((group) => groups[group]?.includes(name));
      // Merge order: each group file in group order (universal first), then the node file.
      const files: SourcedFile<GroupFile | NodeFile>[] = [];
      for (const group of memberOf) {
        const groupFile = groupFiles.get(group);
        if (groupFile) files.push(groupFile);
      }
      const nodeFile = nodeFiles.get(name);
      if (nodeFile) files.push(nodeFile);
      layers.set(
        name,
        files.map((entry) => ({ source: entry.path, vars: entry.data.vars ?? {} })),
      );

      const merged: GroupFile = {};
      let transportOptions: Record<string, unknown> = {};
      for (const { data } of files) {
        if (data.port !== undefined) merged.port = data.port;
        if (data.user !== undefined) merged.user = data.user;
        if (data.transport !== undefined) merged.transport = data.transport;
        transportOptions = { ...transportOptions, ...data.transportOptions };
      }
      const vars: Record<string, unknown> = {};
      for (const layer of layers.get(name) ?? []) Object.assign(vars, layer.vars);
      // progfiguration's `default` is a fallback function, not extra roles: a node gets its function's roles only.
      const roles = [...(inventory.functions.get(fn) ?? [])];
      return {
        name,
        address: nodeFile?.data.address,
        port: merged.port,
        user: merged.user,
        transport: merged.transport ?? defaultTransport,
        transportOptions,
        groups: memberOf,
        function: fn,
        roles,
        vars,
        readonly: nodeFile?.data.readonly ?? false,
      } satisfies Host;
    });
    this.#layers = layers;
  }

  /** Reads inventory.conf and the group and node files beside it. */
  static async load(file: string | URL, options: InventoryConfOptions = {}): Promise<InventoryConfStore> {
    const absolute = path.resolve(file instanceof URL ? fileURLToPath(file) : file);
    let text: string;
    try {
      text = await readFile(absolute, 'utf8');
    } catch (error) {
      throw inventoryError(absolute, undefined, `cannot read the inventory: ${(error as Error).message}`, {
        expected: 'a readable inventory.conf file',
        hint: "check the path given to inventoryConf() or the host store's `path` option",
        cause: error,
      });
    }
    const inventory = interpretInventory(parseIni(text, absolute));
    const dir = path.dirname(absolute);
    const groupNames = new Set([UNIVERSAL_GROUP, ...inventory.groups.keys()]);
    const nodeNames = new Set(inventory.nodes.keys());
    const groupFiles = await readJsonDir(path.resolve(dir, options.groupsDir ?? 'groups'), groupFileSchema, groupNames, 'group', absolute);
    const nodeFiles = await readJsonDir(path.resolve(dir, options.nodesDir ?? 'nodes'), nodeFileSchema, nodeNames, 'node', absolute);
    return new InventoryConfStore(absolute, inventory, groupFiles, nodeFiles, options.defaultTransport ?? 'ssh');
  }

  listHosts(): Promise<readonly Host[]> {
    return Promise.resolve(this.#hosts);
  }

  /** Group → members, `universal` (every node) first. */
  listGroups(): Promise<Readonly<Record<string, readonly string[]>>> {
    return Promise.resolve(this.#groups);
  }

  /**
   * Each var of a host with the file it came from and the values it replaced,
   * sorted by name. Merge order: `groups/<group>.json` for each group of the host
   * (`universal` first, then in inventory.conf order), then `nodes/<node>.json`;
   * a later file replaces a whole top-level var.
   */
  explainVars(host: string | Host): readonly ExplainedVar[] {
    const name = typeof host === 'string' ? host : host.name;
    const layers = this.#layers.get(name);
    if (!layers) {
      throw inventoryError(this.path, undefined, `no host named '${name}'`, {
        expected: `a node listed in [node_function_map] (${listNames(this.#layers.keys(), 'none is listed')})`,
      });
    }
    const seen = new Map<string, VarOrigin[]>();
    for (const layer of layers) {
      for (const [key, value] of Object.entries(layer.vars)) {
        const history = seen.get(key) ?? [];
        history.push({ value, source: layer.source });
        seen.set(key, history);
      }
    }
    return [...seen]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, history]) => {
        const winner = history[history.length - 1] as VarOrigin;
        return { name: key, value: winner.value, source: winner.source, overridden: history.slice(0, -1) };
      });
  }
}

/** The controller key lives on the controller: `~/` is its home, relative paths sit beside inventory.conf. */
function resolveControllerPath(inventoryFile: string, value: string): string {
  if (value === '~' || value.startsWith('~/')) return path.join(homedir(), value.slice(1));
  return path.resolve(path.dirname(inventoryFile), value);
}

/**
 * Loads a HostStore from an inventory.conf file (a path, relative to the current
 * folder, or a `file:` URL such as `new URL('./inventory.conf', import.meta.url)`).
 */
export function inventoryConf(file: string | URL, options?: InventoryConfOptions): Promise<InventoryConfStore> {
  return InventoryConfStore.load(file, options);
}
