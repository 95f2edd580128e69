// The bad-input corpus: every malformed site, role, template, inventory, host var,
// secret reference and command line below must fail whole, before any host is
// touched: exit 3, the place named, no stack trace, nothing written on any host.
// The hosts are real: one sshd from @fettle/testkit (its connection count and its
// target root are checked) and a local transport sandbox inside each site.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdForTests } from '@fettle/testkit';
import { runInProcess, sitesRoot } from './test-sites.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const plugin = (name: string): string => pathToFileURL(path.resolve(here, `../../../plugins/${name}/dist/index.js`)).href;
const sshd = sshdForTests({ hosts: ['web1'] });
const made: string[] = [];
let corpusRoot: string;

beforeAll(async () => {
  await sshd.start();
  mkdirSync(sitesRoot, { recursive: true });
  corpusRoot = mkdtempSync(path.join(sitesRoot, 'corpus-'));
  made.push(corpusRoot);
});
afterAll(async () => {
  await sshd.stop();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

type Files = Readonly<Record<string, string | Buffer>>;

interface Case {
  readonly name: string;
  /** The site's files; `fettle.config.ts` defaults to the base config with `role`. */
  readonly files?: Files;
  /** The `base` role, as TypeScript source (default: no items). */
  readonly role?: string;
  /** Extra lines at the top of the base config. */
  readonly head?: string;
  /** More roles (source of `name: fn` entries) and the roles every host gets (default: base). */
  readonly moreRoles?: string;
  readonly defaultRoles?: readonly string[];
  /** The command line without `--site` (default: apply). */
  readonly args?: readonly string[];
  /** What the message must say: the place, and what was wrong. */
  readonly says: readonly RegExp[];
  /** The source line the message names (`role base (FILE:LINE)`) holds this. */
  readonly line?: RegExp;
}

const SECRET = 'corpus-secret-never-shown-4711';

function baseConfig(entry: Case & { role: string }): string {
  const kit = sshd.get();
  return `import { MemoryHostStore, defineSite, type Host } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import ssh from '@fettle/transport-ssh';
import templates from '${plugin('template-eta')}';
${entry.head ?? ''}
const secrets = {
  describe: 'corpus secrets',
  list: async () => ['db'],
  get: async (name: string) => {
    if (name !== 'db') throw new Error('no secret named ' + name);
    return '${SECRET}';
  },
  set: async () => undefined,
};

export default defineSite({
  plugins: [files, local, ssh, templates],
  secrets,
  hosts: new MemoryHostStore({
    hosts: {
      ssh1: { ...${JSON.stringify(kit.inventoryHost('web1'))}, vars: { port: 8080, nginx: { version: '1.25' } } },
      local1: { transport: 'local', transportOptions: { root: 'sandbox/local1' }, vars: { port: 8081, nginx: { version: '1.25' } } },
    },
    groups: { web: ['ssh1', 'local1'] },
    defaultRoles: ${JSON.stringify(entry.defaultRoles ?? ['base'])},
  }),
  roles: {
    base: ${entry.role},${entry.moreRoles ? `\n    ${entry.moreRoles},` : ''}
  },
});
`;
}

/** A role returning these items, as source. */
const items = (source: string): string => `(host: Host) => (${source})`;
const HOST = /host (ssh1|local1)/;
const ROLE_AT = /role base \(fettle\.config\.ts:\d+\)/;
const tpl = (text: string | Buffer): Files => ({ 'templates/t.eta': text });
const TEMPLATE_ITEM = items(`{ 'template:/etc/t.conf': { source: 'templates/t.eta', context: { listen: 80 } } }`);

function inventorySite(conf: string, extra: Files = {}): Files {
  return {
    'fettle.config.ts': `import path from 'node:path';
import { defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import inventoryPlugin, { inventoryConf } from '${plugin('inventory-conf')}';

export default defineSite({
  plugins: [files, local, inventoryPlugin],
  hosts: await inventoryConf(path.join(import.meta.dirname, 'inventory.conf'), { defaultTransport: 'local' }),
  roles: { settz: () => ({ 'file:/etc/timezone': { content: 'UTC\\n' } }), web: () => ({}) },
});
`,
    'inventory.conf': conf,
    ...extra,
  };
}
const INVENTORY = '[groups]\nweb = node1\n\n[node_function_map]\nnode1 = webserver\n\n[function_role_map]\nwebserver = settz web\n';
const nodeFile = (json: string): Files => ({ 'nodes/node1.json': json });

const cases: Case[] = [
  // Sites
  { name: 'no site config', files: { 'README.md': 'empty\n' }, says: [/no site config in .*corpus-/, /fettle\.config\.ts/] },
  { name: 'a TypeScript syntax error in the config', files: { 'fettle.config.ts': 'export default {\n  plugins: [,\n' }, says: [/fettle\.config\.ts:\d+/, /cannot compile/] },
  { name: 'an import of a missing module', files: { 'fettle.config.ts': "import { x } from './nowhere.js';\nexport default x;\n" }, says: [/fettle\.config\.ts:1/, /nowhere/] },
  { name: 'the config throws while loading', files: { 'fettle.config.ts': "const a = 1;\nthrow new Error('boom at load');\nexport default a;\n" }, says: [/fettle\.config\.ts:2/, /boom at load/] },
  { name: 'no default export', files: { 'fettle.config.ts': 'export const site = {};\n' }, says: [/fettle\.config\.ts/, /no default export/] },
  { name: 'no plugins', files: { 'fettle.config.ts': "import { MemoryHostStore } from '@fettle/core';\nexport default { hosts: new MemoryHostStore({ hosts: {} }), roles: {} };\n" }, says: [/fettle\.config\.ts/, /plugins/] },
  { name: 'an unknown key in the site', files: { 'fettle.config.ts': "import { MemoryHostStore } from '@fettle/core';\nexport default { plugins: [], hosts: new MemoryHostStore({ hosts: {} }), roles: {}, colour: 'red' };\n" }, says: [/fettle\.config\.ts/, /colour/] },
  { name: 'a role that is not a function', files: { 'fettle.config.ts': "import { MemoryHostStore } from '@fettle/core';\nexport default { plugins: [], hosts: new MemoryHostStore({ hosts: {} }), roles: { base: 'nope' } };\n" }, says: [/fettle\.config\.ts/, /roles.*base|base.*role/, /expected a role function/] },
  { name: 'concurrency 0 in the site', files: { 'fettle.config.ts': "import { MemoryHostStore } from '@fettle/core';\nexport default { plugins: [], hosts: new MemoryHostStore({ hosts: {} }), roles: {}, concurrency: 0 };\n" }, says: [/fettle\.config\.ts/, /concurrency/] },
  { name: 'two plugins with one name', files: { 'fettle.config.ts': "import { MemoryHostStore } from '@fettle/core';\nimport files from '@fettle/items-files';\nexport default { plugins: [files, files], hosts: new MemoryHostStore({ hosts: {} }), roles: {} };\n" }, says: [/@fettle\/items-files/] },

  // Roles
  { name: 'a role that throws', role: "(host: Host) => {\n    const nginx = host.vars['nope'] as { version: string };\n    return { 'file:/etc/v': { content: nginx.version } };\n  }", line: /nginx\.version/, says: [HOST, /role base \(fettle\.config\.ts:31\)/, /threw TypeError: Cannot read properties of undefined \(reading 'version'\)/] },
  { name: 'a role in its own file that throws', files: { 'roles/web.ts': "import type { Host } from '@fettle/core';\n\nexport function web(host: Host) {\n  if (host.name) throw new Error('no web for ' + host.name);\n  return {};\n}\n" }, head: "import { web } from './roles/web.js';", role: 'web', line: /throw new Error/, says: [HOST, /role base \(roles\/web\.ts:4\)/, /threw Error: no web for/] },
  { name: 'a role that returns nothing', role: "(host: Host) => {\n    if (host.name === 'x') return {};\n  }", says: [HOST, ROLE_AT, /returned undefined/, /expected an item map/] },
  { name: 'a role that returns an array', role: "() => [{ 'file:/a': {} }]", says: [HOST, ROLE_AT, /returned an array/] },
  { name: 'a role that returns a string', role: "() => 'file:/a'", says: [HOST, ROLE_AT, /returned a string/] },
  { name: 'a role whose items are not a map', role: "() => ({ items: 'file:/a' })", says: [HOST, ROLE_AT, /items that are a string/] },
  { name: 'a role whose tasks are not a list', role: "() => ({ items: {}, tasks: {} })", says: [HOST, ROLE_AT, /tasks that are a Object/] },
  { name: 'an async role that rejects', role: "async () => {\n    await Promise.resolve();\n    throw new RangeError('async trouble');\n  }", line: /throw new RangeError/, says: [HOST, /role base \(fettle\.config\.ts:31\)/, /threw RangeError: async trouble/] },
  { name: 'a host with a role the site does not define', role: items('{}'), defaultRoles: ['base', 'nginx'], says: [HOST, /role 'nginx', which the site does not define/, /one of base/] },

  // Items and attributes
  { name: 'an unknown item type', role: items("{ 'fiel:/etc/x': { content: 'x' } }"), says: [HOST, ROLE_AT, /item fiel:\/etc\/x/, /unknown item type 'fiel'/] },
  { name: 'an item id without a type', role: items("{ '/etc/x': { content: 'x' } }"), says: [HOST, /item \/etc\/x/, /type:name/] },
  { name: 'an unknown attribute', role: items("{ 'file:/etc/x': { contnet: 'x' } }"), says: [HOST, /item file:\/etc\/x/, /unknown attribute 'contnet'/] },
  { name: 'a missing required attribute', role: items("{ 'symlink:/etc/x': {} }"), says: [HOST, /item symlink:\/etc\/x/, /target/] },
  { name: 'a wrong attribute type', role: items("{ 'file:/etc/x': { content: 42 } }"), says: [HOST, /item file:\/etc\/x/, /attribute 'content'/, /expected string/] },
  { name: 'a bad mode', role: items("{ 'file:/etc/x': { content: 'x', mode: '999' } }"), says: [HOST, /item file:\/etc\/x/, /attribute 'mode'/, /octal/] },
  { name: 'a numeric mode', role: items("{ 'directory:/etc/d': { mode: 755 } }"), says: [HOST, /item directory:\/etc\/d/, /attribute 'mode'/] },
  { name: 'a relative path', role: items("{ 'file:etc/x': { content: 'x' } }"), says: [HOST, /item file:etc\/x/, /absolute path/] },
  { name: 'a path that is not normalised', role: items("{ 'file:/etc//x': { content: 'x' } }"), says: [HOST, /item file:\/etc\/\/x/, /normalised path/] },
  { name: 'a path with a newline', role: items("{ 'file:/etc/motd\\n': { content: 'x' } }"), says: [HOST, /item file:\/etc\/motd\\n/, /control character/] },
  { name: 'a path with an escape character', role: items("{ 'file:/etc/\\u001b[31mred': { content: 'x' } }"), says: [HOST, /item file:\/etc\/\\u001b/, /control character/] },
  { name: 'content and source together', role: items("{ 'file:/etc/x': { content: 'x', source: 'files/x' } }"), says: [HOST, /item file:\/etc\/x/, /either content or source/] },
  { name: 'a source file that does not exist', role: items("{ 'file:/etc/x': { source: 'files/missing.txt' } }"), says: [HOST, ROLE_AT, /item file:\/etc\/x/, /attribute 'source'/, /does not exist: files\/missing\.txt/] },
  { name: 'a source that is a folder', files: { 'files/dir/keep': 'x' }, role: items("{ 'file:/etc/x': { source: 'files/dir' } }"), says: [HOST, /item file:\/etc\/x/, /not a regular file/] },
  { name: 'needs naming no item', role: items("{ 'file:/etc/x': { content: 'x', needs: ['file:/etc/y'] } }"), says: [HOST, /item file:\/etc\/x/, /needs names 'file:\/etc\/y'/] },
  { name: 'needed_by naming no item', role: items("{ 'file:/etc/x': { content: 'x', needed_by: ['directory:/nope'] } }"), says: [/item file:\/etc\/x/, /needed_by names 'directory:\/nope'/] },
  { name: 'triggers naming an item that is not triggered', role: items("{ 'file:/etc/x': { content: 'x', triggers: ['file:/etc/y'] }, 'file:/etc/y': { content: 'y' } }"), says: [HOST, /item file:\/etc\/x/, /attribute 'triggers'/, /'file:\/etc\/y', which is not a triggered item/] },
  { name: 'triggers naming no item', role: items("{ 'file:/etc/x': { content: 'x', triggers: ['file:/etc/zz'] } }"), says: [/item file:\/etc\/x/, /triggers names 'file:\/etc\/zz'/] },
  { name: 'a dependency cycle', role: items("{ 'file:/a': { content: 'a', needs: ['file:/b'] }, 'file:/b': { content: 'b', needs: ['file:/a'] } }"), says: [HOST, /dependency cycle: file:\/(a|b) -> file:\/(a|b) -> file:\/(a|b)/] },
  { name: 'a common attribute of the wrong type', role: items("{ 'file:/etc/x': { content: 'x', needs: 'file:/etc/y' } }"), says: [HOST, /item file:\/etc\/x/, /attribute 'needs'/] },
  { name: 'attributes that are not an object', role: items("{ 'file:/etc/x': null }"), says: [HOST, /item file:\/etc\/x/, /attributes must be an object/] },
  { name: 'an item defined by two roles', role: items("{ 'file:/etc/x': { content: host.name } }"), moreRoles: "other: () => ({ 'file:/etc/x': { content: 'y' } })", defaultRoles: ['base', 'other'], says: [HOST, /item 'file:\/etc\/x' is defined twice \(roles base and other\)/] },

  // Templates
  { name: 'a template with a JavaScript syntax error', files: tpl('ok\nline 2\n<% if (vars.port { %>\nx\n<% } %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:3/, HOST, /item template:\/etc\/t\.conf/, /SyntaxError/] },
  { name: 'a template with an unclosed tag', files: tpl('a\nb <%= vars.port\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, HOST, /item template:\/etc\/t\.conf/, /unclosed tag/] },
  { name: 'a template using an undefined variable', files: tpl('# conf\nlisten <%= port %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, HOST, /item template:\/etc\/t\.conf/, /ReferenceError: port is not defined/] },
  { name: 'a template using a missing var', files: tpl('# conf\n\nworkers <%= vars.workers %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:3/, HOST, /item template:\/etc\/t\.conf/, /vars\.workers is not defined/] },
  { name: 'a template using a missing nested property', files: tpl('version <%= vars.nginx.version %>\nmodule <%= vars.nginx.modules.length %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, HOST, /vars\.nginx\.modules is not defined/] },
  { name: 'a template using a missing context key', files: tpl('listen <%= context.listen %>\ntls <%= context.tls %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, /item template:\/etc\/t\.conf/, /context\.tls is not defined/] },
  { name: 'a template with a misspelt host field', files: tpl('<%= host.nmae %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:1/, /host\.nmae is not defined/] },
  { name: 'a template file that does not exist', role: items("{ 'template:/etc/t.conf': { source: 'templates/missing.eta' } }"), says: [/template templates\/missing\.eta/, HOST, /item template:\/etc\/t\.conf/, /ENOENT/] },
  { name: 'a template that is not UTF-8', files: tpl(Buffer.from('# caf\xe9\nok\n', 'latin1')), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:1/, HOST, /not valid UTF-8/] },
  { name: 'a hash block never closed', files: tpl('a\n<% hash %><%= vars.port %>\nb\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, /never closed/] },
  { name: 'two hash blocks', files: tpl('<% hash %>1<% /hash %>\n<% hash %>2<% /hash %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, /only one <% hash %>/] },
  { name: 'an error inside the hash block', files: tpl('<% hash %>\n<%= vars.nginx.release %>\n<% /hash %>\nok\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:2/, /vars\.nginx\.release is not defined/] },
  { name: 'a template calling a missing secret', files: tpl('user app\npassword <%= secret("dbx") %>\n'), role: TEMPLATE_ITEM, says: [HOST, /item template:\/etc\/t\.conf/, /dbx/] },
  { name: 'a template attribute of the wrong type', role: items("{ 'template:/etc/t.conf': { source: 'templates/t.eta', context: 'port=80' } }"), says: [HOST, /item template:\/etc\/t\.conf/, /attribute 'context'/] },

  // Secrets
  { name: 'a secret reference naming no secret', role: "(host: Host, { secret }) => ({ 'file:/etc/pw': { content: secret('nope') } })", says: [HOST, ROLE_AT, /item file:\/etc\/pw/, /nope/] },
  { name: 'a secret in a context naming no secret', files: tpl('pw <%= context.pw %>\n'), role: "(host: Host, { secret }) => ({ 'template:/etc/t.conf': { source: 'templates/t.eta', context: { pw: secret('db2') } } })", says: [HOST, /item template:\/etc\/t\.conf/, /db2/] },

  // Inventories and host vars
  { name: 'an inventory line without a key', files: inventorySite('[groups]\nweb = node1\nthis is not ini\n'), says: [/inventory\.conf:3/] },
  { name: 'an inventory key given twice', files: inventorySite('[node_function_map]\nnode1 = webserver\nnode1 = webserver\n\n[function_role_map]\nwebserver = settz\n'), says: [/inventory\.conf:3/, /node1/] },
  { name: 'an inventory section given twice', files: inventorySite('[groups]\nweb = node1\n[groups]\ndb = node1\n'), says: [/inventory\.conf:3/, /groups/] },
  { name: 'an inventory function with no roles entry', files: inventorySite('[node_function_map]\nnode1 = nosuch\n\n[function_role_map]\nwebserver = settz\n'), says: [/inventory\.conf:2/, /nosuch/] },
  { name: 'an inventory role the site does not define', files: inventorySite('[node_function_map]\nnode1 = webserver\n\n[function_role_map]\nwebserver = settz nginx\n'), says: [/host node1/, /role 'nginx'/] },
  { name: 'a bad name in the inventory', files: inventorySite('[node_function_map]\nno de1 = webserver\n\n[function_role_map]\nwebserver = settz\n'), says: [/inventory\.conf:2/] },
  { name: 'a node file that is not JSON', files: inventorySite(INVENTORY, nodeFile('{ "vars": { "tz": "UTC", } ')), says: [/nodes\/node1\.json/] },
  { name: 'a node file with an unknown key', files: inventorySite(INVENTORY, nodeFile('{ "adress": "10.0.0.1" }')), says: [/nodes\/node1\.json/, /adress/] },
  { name: 'a node file with a port of the wrong type', files: inventorySite(INVENTORY, nodeFile('{ "port": "twenty-two" }')), says: [/nodes\/node1\.json/, /port/] },
  { name: 'a host store host var used by a template that is missing', files: tpl('zone <%= vars.tz %>\n'), role: TEMPLATE_ITEM, says: [/template templates\/t\.eta:1/, /vars\.tz is not defined/] },

  // Command lines
  { name: '-j many', args: ['apply', '-j', 'many'], role: items('{}'), says: [/concurrency/, /positive integer/, /'many'/] },
  { name: '-j 0', args: ['apply', '-j', '0'], role: items('{}'), says: [/concurrency/, /positive integer/] },
  { name: '-j -3', args: ['plan', '-j', '-3'], role: items('{}'), says: [/concurrency|-3/] },
  { name: '-j 1.5', args: ['verify', '-j', '1.5'], role: items('{}'), says: [/concurrency/, /'1\.5'/] },
  { name: 'an unknown option', args: ['apply', '--dry-rum'], role: items('{}'), says: [/unknown option '--dry-rum'/] },
  { name: 'a selector naming no host', args: ['apply', 'nosuchhost'], role: items('{}'), says: [/nosuchhost/] },
  { name: 'a group naming no group', args: ['apply', 'group:nosuch'], role: items('{}'), says: [/group:nosuch|nosuch/] },
  { name: 'items of an unknown host', args: ['items', 'nosuchhost'], role: items('{}'), says: [/nosuchhost/] },
  { name: 'a preview of an unknown item', args: ['items', 'local1', '--preview', 'file:/nope'], role: items('{}'), says: [/file:\/nope/] },
];

function writeSite(entry: Case): string {
  const dir = mkdtempSync(path.join(corpusRoot, 'case-'));
  const files: Record<string, string | Buffer> = { ...(entry.files ?? {}) };
  if (entry.role !== undefined && !('fettle.config.ts' in files)) files['fettle.config.ts'] = baseConfig({ ...entry, role: entry.role });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Run the CLI in this process, capturing what it writes. */
const fettle = runInProcess;

const STACK = /^\s+at .+:\d+(:\d+)?\)?$/m;

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('the bad-input corpus', () => {
  it('has at least 50 malformed inputs, each saying what it expects', () => {
    expect(cases.length).toBeGreaterThanOrEqual(50);
    for (const entry of cases) expect(entry.says.length, entry.name).toBeGreaterThan(0);
  });

  it.each(cases.map((entry) => [entry.name, entry] as const))('%s: exit 3, the place named, no stack, no host touched', async (_name, entry) => {
    const kit = sshd.get();
    const dir = writeSite(entry);
    const mark = await kit.mark();
    const before = listTree(kit.hosts.web1?.root ?? '');
    const args = entry.args ?? ['apply'];
    const result = await fettle([...args, '--site', dir]);
    const text = result.stdout + result.stderr;
    expect(result.code, text).toBe(3);
    for (const pattern of entry.says) expect(text).toMatch(pattern);
    expect(text).not.toMatch(STACK);
    if (entry.line) {
      const [, file, line] = /role base \(([^():]+):(\d+)\)/.exec(text) ?? [];
      expect(readFileSync(path.join(dir, file ?? ''), 'utf8').split('\n')[Number(line) - 1]).toMatch(entry.line);
    }
    expect(text).not.toContain(SECRET);
    // Nothing reached a host: no connection to the sshd, its root as it was, no local sandbox.
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 0 });
    expect(listTree(kit.hosts.web1?.root ?? '')).toEqual(before);
    expect(existsSync(path.join(dir, 'sandbox'))).toBe(false);

    // The same under --json: one error object on stdout, the same exit code.
    const json = await fettle([...args, '--site', dir, '--json']);
    expect(json.code).toBe(3);
    const { error } = JSON.parse(json.stdout) as { error: { code: string; message: string; where: string | null; expected: string | null } };
    expect(error.code).toMatch(/^E_/);
    const jsonText = `${error.where ?? ''}: ${error.message}: expected ${error.expected ?? ''}`;
    for (const pattern of entry.says) expect(jsonText).toMatch(pattern);
  });
});
