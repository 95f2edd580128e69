import { arg, defineFact, defineItemType, definePlugin, joinShell, sh, z } from '@fettle/core';

/**
 * A custom item type, as a site writes one: `line:PATH=TEXT` makes sure the file
 * at PATH contains TEXT as a whole line. Its fact checks every line of every
 * file in one remote command, however many line items the host has.
 */
const hasLine = defineFact<{ path: string; line: string }, boolean>({
  name: 'site.has-line',
  command: (queries, env) =>
    joinShell(queries.map((q) => sh`grep -qxF -- ${arg(q.line)} ${env.hostPath(q.path)} 2>/dev/null && echo y || echo n`), '\n'),
  parse: (stdout) => stdout.trim().split('\n').map((answer) => answer === 'y'),
});

function split(name: string): { path: string; line: string } {
  const at = name.indexOf('=');
  return { path: name.slice(0, at), line: name.slice(at + 1) };
}

export const lineItem = defineItemType({
  name: 'line',
  description: 'a line that must be present in a file',
  attributes: z.strictObject({}),
  validateName: (name) => (name.startsWith('/') && name.includes('=') ? undefined : 'expected PATH=TEXT with an absolute path'),
  implicitNeeds: (item) => [`file:${split(item.name).path}`],
  cdict: () => ({ present: true }),
  async sdict(item, context) {
    return { present: await context.fact(hasLine, split(item.name)) };
  },
  async fix(_change, item, context) {
    const { path, line } = split(item.name);
    await context.runChecked(sh`printf '%s\\n' ${arg(line)} >> ${context.hostPath(path)}`);
  },
});

export default definePlugin({ name: 'site-basic/line', itemTypes: [lineItem] });
