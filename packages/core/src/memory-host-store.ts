import { z } from 'zod';
import type { ExplainedVar, Host, HostStore, VarOrigin } from './protocols/host.js';
import { parseOrThrow } from './schema.js';
import { FettleError } from './errors.js';

const connection = {
  address: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  transport: z.string().min(1).optional(),
  transportOptions: z.record(z.string(), z.unknown()).optional(),
};

const hostSchema = z.strictObject({
  ...connection,
  vars: z.record(z.string(), z.unknown()).optional(),
  roles: z.array(z.string()).optional(),
  function: z.string().optional(),
  readonly: z.boolean().optional(),
});

const inventorySchema = z.strictObject({
  hosts: z.record(z.string(), hostSchema),
  groups: z.record(z.string(), z.array(z.string())).optional(),
  groupVars: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  /** function name → roles (progfiguration's function → roles). */
  functions: z.record(z.string(), z.array(z.string())).optional(),
  /** Roles every host gets, first. */
  defaultRoles: z.array(z.string()).optional(),
  /** Connection defaults for every host. */
  defaults: z.strictObject(connection).optional(),
});

export type MemoryInventory = z.input<typeof inventorySchema>;

/**
 * A HostStore from plain data. Roles of a host: default roles, then the roles of
 * its function, then its own. Vars: each group's vars in group order, then its own.
 */
export class MemoryHostStore implements HostStore {
  readonly describe: string;
  readonly #hosts: readonly Host[];
  readonly #groups: Readonly<Record<string, readonly string[]>>;
  readonly #layers = new Map<string, { source: string; vars: Readonly<Record<string, unknown>> }[]>();

  constructor(inventory: MemoryInventory, describe = 'memory host store') {
    this.describe = describe;
    const data = parseOrThrow(inventorySchema, inventory, 'E_INVENTORY', describe);
    const groups = data.groups ?? {};
    for (const [group, members] of Object.entries(groups)) {
      for (const member of members) {
        if (!(member in data.hosts)) {
          throw new FettleError('E_INVENTORY', `group '${group}' names unknown host '${member}'`, {
            where: describe,
            expected: `one of ${Object.keys(data.hosts).join(', ')}`,
          });
        }
      }
    }
    this.#groups = groups;
    this.#hosts = Object.entries(data.hosts).map(([name, spec]) => {
      const memberOf = Object.keys(groups).filter((group) => groups[group]?.includes(name));
      let functionRoles: readonly string[] = [];
      if (spec.function !== undefined) {
        const roles = data.functions?.[spec.function];
        if (!roles) {
          throw new FettleError('E_INVENTORY', `host '${name}' has unknown function '${spec.function}'`, {
            where: describe,
            expected: `one of ${Object.keys(data.functions ?? {}).join(', ') || '(no functions defined)'}`,
          });
        }
        functionRoles = roles;
      }
      const roles = [...new Set([...(data.defaultRoles ?? []), ...functionRoles, ...(spec.roles ?? [])])];
      const layers = [
        ...memberOf.map((group) => ({ source: `group ${group}`, vars: data.groupVars?.[group] ?? {} })),
        { source: `host ${name}`, vars: spec.vars ?? {} },
      ];
      this.#layers.set(name, layers);
      const vars: Record<string, unknown> = Object.assign({}, ...layers.map((layer) => layer.vars)) as Record<string, unknown>;
      const defaults = data.defaults ?? {};
      return {
        name,
        address: spec.address ?? defaults.address,
        port: spec.port ?? defaults.port,
        user: spec.user ?? defaults.user,
        transport: spec.transport ?? defaults.transport ?? 'ssh',
        transportOptions: { ...defaults.transportOptions, ...spec.transportOptions },
        groups: memberOf,
        function: spec.function,
        roles,
        vars,
        readonly: spec.readonly ?? false,
      } satisfies Host;
    });
  }

  listHosts(): Promise<readonly Host[]> {
    return Promise.resolve(this.#hosts);
  }

  listGroups(): Promise<Readonly<Record<string, readonly string[]>>> {
    return Promise.resolve(this.#groups);
  }

  /** Group vars in group order, then the host's own: later wins. */
  explainVars(host: string): readonly ExplainedVar[] {
    const seen = new Map<string, VarOrigin[]>();
    for (const layer of this.#layers.get(host) ?? []) {
      for (const [name, value] of Object.entries(layer.vars)) seen.set(name, [...(seen.get(name) ?? []), { value, source: layer.source }]);
    }
    return [...seen]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, origins]) => ({ name, ...(origins[origins.length - 1] as VarOrigin), overridden: origins.slice(0, -1) }));
  }
}
