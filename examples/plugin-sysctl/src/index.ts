import { arg, defineFactPerQuery, defineItemType, definePlugin, sh, z } from '@fettle/core';
import pkg from '../package.json' with { type: 'json' };

/** sysctl reads `4096  16384` and `4096 16384` alike: compare values with single spaces. */
const normalize = (value: string): string => value.trim().split(/\s+/).join(' ');
const defaultFile = (key: string): string => `/etc/sysctl.d/90-fettle-${key}.conf`;
/** Where the running kernel shows a key (what `sysctl -w` writes). */
const procFile = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

/** What a drop-in file sets a key to (null: no file, or no such line). One command for all items of a host. */
export const persisted = defineFactPerQuery<{ file: string; key: string }, string | null>({
  name: 'sysctl.persisted',
  // Paths go into commands only through hostPath(): under a sandbox root this reads the sandbox's file.
  each: (query, env) => sh`cat ${env.hostPath(query.file)}`,
  parseOne({ code, stdout }, query) {
    if (code !== 0) return null;
    const line = stdout.split('\n').map((text) => /^\s*([^#;=\s][^=]*?)\s*=\s*(.*)$/.exec(text)).find((match) => match?.[1] === query.key);
    return line ? normalize(line[2] ?? '') : null;
  },
});

/** The running kernel's value, from /proc/sys (a sandbox root's own /proc/sys, like every path). */
export const live = defineFactPerQuery<string, string | null>({
  name: 'sysctl.live',
  each: (key, env) => sh`cat ${env.hostPath(procFile(key))}`,
  parseOne: ({ code, stdout }) => (code === 0 ? normalize(stdout) : null),
});

export const sysctl = defineItemType({
  name: 'sysctl',
  description: 'a kernel parameter kept in a file of /etc/sysctl.d, and with `live` set in the running kernel too',
  attributes: z.strictObject({
    value: z.union([z.string().min(1), z.number()]),
    /** Also compare with, and set, the running kernel's value (in /proc/sys, as sysctl -w does). */
    live: z.boolean().default(false),
    /** The drop-in file this item owns. */
    file: z.string().startsWith('/').optional(),
  }),
  validateName: (name) => (/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(name) ? undefined : 'expected a sysctl key such as vm.swappiness'),

  cdict(item) {
    const value = normalize(String(item.attrs.value));
    return item.attrs.live ? { value, live: value } : { value };
  },
  async sdict(item, context) {
    const file = item.attrs.file ?? defaultFile(item.name);
    // Asked in one tick: both facts, for every sysctl item of the host, travel in one remote command.
    const value = context.fact(persisted, { file, key: item.name });
    const now = item.attrs.live ? context.fact(live, item.name) : undefined;
    return now ? { value: await value, live: await now } : { value: await value };
  },
  async fix(change, item, context) {
    const value = normalize(String(item.attrs.value));
    const file = item.attrs.file ?? defaultFile(item.name);
    if (change.keys.includes('value')) {
      await context.writeFile(file, `# managed by fettle\n${item.name} = ${value}\n`, { mode: '0644' }, { createParents: change.sdict?.['value'] === null });
    }
    if (change.keys.includes('live')) await context.runChecked(sh`printf '%s\\n' ${arg(value)} > ${context.hostPath(procFile(item.name))}`);
  },
});

export default definePlugin({ name: pkg.name, version: pkg.version, itemTypes: [sysctl], facts: [persisted, live] });
