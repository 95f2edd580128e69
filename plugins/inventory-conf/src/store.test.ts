import path from 'node:path';
import { homedir } from 'node:os';
import { FettleError, formatError } from '@fettle/core';
import { describe, expect, it } from 'vitest';
import plugin, { inventoryConf } from './index.js';
import { DOC_EXAMPLE, siteWith } from './fixtures.js';

describe('inventory.conf examples from progfiguration', () => {
  it('parses the documented example_site inventory', async () => {
    const dir = await siteWith({ 'inventory.conf': DOC_EXAMPLE });
    const store = await inventoryConf(path.join(dir, 'inventory.conf'));
    const hosts = await store.listHosts();
    expect(hosts).toEqual([
      {
        name: 'node1',
        address: undefined,
        port: undefined,
        user: undefined,
        transport: 'ssh',
        transportOptions: {},
        groups: ['universal', 'group1'],
        function: 'func1',
        roles: ['settz'],
        vars: {},
        readonly: false,
      },
    ]);
    expect(await store.listGroups()).toEqual({ universal: ['node1'], group1: ['node1'] });
    expect(store.functions).toEqual({ func1: ['settz'], default: ['settz'] });
    expect(store.defaultRoles).toEqual(['settz']);
    expect(store.controller).toEqual({ agePath: '/path/to/controller.age', agePublic: 'paste the public key here' });
    expect(store.nodeFallbackKeyPath).toBe('/path/to/node.age');
    expect(store.describe).toBe(`inventory.conf at ${path.join(dir, 'inventory.conf')}`);
  });

  it('reads the older [secrets] section name and a real public key (the nnss test site)', async () => {
    const pub = 'age1dmxq0tws40d8npseun9azpq65smpyd2kqfyj0ytlk6m7trn7nsxqnsrag2';
    const dir = await siteWith({
      'inventory.conf': `[secrets]\ncontroller_age_path = keys/controller.age\ncontroller_age_pub = ${pub}\nnode_fallback_age_path = /path/to/node.age\n\n[groups]\ngroup1 = node1\n\n[node_function_map]\nnode1 = func1\n\n[function_role_map]\nfunc1 = settz\ndefault = settz\n`,
    });
    const store = await inventoryConf(path.join(dir, 'inventory.conf'));
    // A relative controller key path sits beside inventory.conf.
    expect(store.controller).toEqual({ agePath: path.join(dir, 'keys/controller.age'), agePublic: pub });
    expect((await store.listHosts()).map((h) => [h.name, h.roles])).toEqual([['node1', ['settz']]]);
  });

  it('reads the commented-out variants: members over spaces and several lines, default roles first', async () => {
    const dir = await siteWith({
      'inventory.conf': `[general]
controller_age_path = ~/.config/fettle/controller.age

[groups]
group1 = node1
group2 = node1 node2
  node3
web =
    node2
    node3

[node_function_map]
node1 = func1
node2 = func2
node3 = default

[function_role_map]
func1 = settz
func2 = settz otherrole
        asdf etc
default = settz base
`,
    });
    const store = await inventoryConf(path.join(dir, 'inventory.conf'));
    expect(store.controller.agePath).toBe(path.join(homedir(), '.config/fettle/controller.age'));
    expect(await store.listGroups()).toEqual({
      universal: ['node1', 'node2', 'node3'],
      group1: ['node1'],
      group2: ['node1', 'node2', 'node3'],
      web: ['node2', 'node3'],
    });
    const hosts = await store.listHosts();
    expect(hosts.map((h) => [h.name, h.function, h.groups, h.roles])).toEqual([
      ['node1', 'func1', ['universal', 'group1', 'group2'], ['settz']],
      ['node2', 'func2', ['universal', 'group2', 'web'], ['settz', 'otherrole', 'asdf', 'etc']],
      ['node3', 'default', ['universal', 'group2', 'web'], ['settz', 'base']],
    ]);
  });

  it("gives progfiguration's `default` function to nodes that have none, and only to them", async () => {
    const dir = await siteWith({
      'inventory.conf': `[groups]
web = node1 newnode
db = newnode

[node_function_map]
node1 = webserver

[function_role_map]
webserver = nginx
default = settz base
`,
    });
    const hosts = await (await inventoryConf(path.join(dir, 'inventory.conf'))).listHosts();
    expect(hosts.map((h) => [h.name, h.function, h.groups, h.roles])).toEqual([
      ['node1', 'webserver', ['universal', 'web'], ['nginx']],
      ['newnode', 'default', ['universal', 'web', 'db'], ['settz', 'base']],
    ]);
  });

  it('without a `default` function, a node with no function is an error naming its line', async () => {
    const { error } = await failure({ 'inventory.conf': '[groups]\nweb = node1 newnode\n\n[node_function_map]\nnode1 = webserver\n\n[function_role_map]\nwebserver = nginx\n' });
    expect(formatError(error)).toMatch(/inventory\.conf:2: group 'web' names unknown node 'newnode'/);
    expect(formatError(error)).toMatch(/default = ROLES/);
  });
});

/** Loads an inventory that must fail, and returns the error. */
async function failure(files: Readonly<Record<string, string>>): Promise<{ error: FettleError; dir: string }> {
  const dir = await siteWith(files);
  try {
    await inventoryConf(path.join(dir, 'inventory.conf'));
  } catch (error) {
    if (error instanceof FettleError) return { error, dir };
    throw error;
  }
  throw new Error('the inventory loaded, but it should have failed');
}

const GOOD_TAIL = '[node_function_map]\nnode1 = func1\n[function_role_map]\nfunc1 = settz\n';

describe('malformed inventory.conf files name the file, the line and what was expected', () => {
  const cases: readonly { name: string; text: string; line: number; message: RegExp; expected: RegExp }[] = [
    { name: 'key before any section', text: `node1 = func1\n${GOOD_TAIL}`, line: 1, message: /outside any section/, expected: /section header/ },
    { name: 'unclosed section header', text: `[groups\n${GOOD_TAIL}`, line: 1, message: /not closed/, expected: /\[name\]/ },
    { name: 'unknown section', text: `${GOOD_TAIL}\n[hosts]\nnode1 = x\n`, line: 6, message: /unknown section \[hosts\]/, expected: /\[general\], \[groups\]/ },
    { name: 'line without delimiter', text: `${GOOD_TAIL}node2\n`, line: 5, message: /cannot read 'node2'/, expected: /key = value/ },
    { name: 'continuation with no key', text: `[groups]\n  node1\n${GOOD_TAIL}`, line: 2, message: /continues no key/, expected: /key = value/ },
    { name: 'repeated key', text: `${GOOD_TAIL}func1 = other\n`, line: 5, message: /'func1' appears a second time .*line 4/, expected: /each key once/ },
    { name: 'repeated section', text: `${GOOD_TAIL}[groups]\n[groups]\n`, line: 6, message: /section \[groups\] appears a second time/, expected: /each section once/ },
    { name: 'group member that is no node', text: `[groups]\nweb = node1\n  nod2\n${GOOD_TAIL}`, line: 3, message: /unknown node 'nod2'/, expected: /node listed in \[node_function_map\] \(node1\)/ },
    { name: 'node with unknown function', text: '[node_function_map]\nnode1 = fnuc1\n[function_role_map]\nfunc1 = settz\n', line: 2, message: /unknown function 'fnuc1'/, expected: /\[function_role_map\] \(func1\)/ },
    { name: 'node with two functions', text: '[node_function_map]\nnode1 = func1\n  func2\n[function_role_map]\nfunc1 = a\nfunc2 = b\n', line: 3, message: /names 2 functions/, expected: /exactly one function/ },
    { name: 'node with no function', text: '[node_function_map]\nnode1 =\n[function_role_map]\nfunc1 = a\n', line: 2, message: /has no function/, expected: /function defined/ },
    { name: 'unknown key in [general]', text: `[general]\ncontroller_age_key = /k\n${GOOD_TAIL}`, line: 2, message: /unknown key 'controller_age_key'/, expected: /controller_age_path, controller_age_pub/ },
    { name: 'empty controller key path', text: `[general]\ncontroller_age_path =\n${GOOD_TAIL}`, line: 2, message: /has no value/, expected: /file path/ },
    { name: 'invalid node name', text: '[node_function_map]\nweb/1 = func1\n[function_role_map]\nfunc1 = a\n', line: 2, message: /node 'web\/1' is not a valid name/, expected: /letters, digits/ },
    { name: 'invalid role name', text: '[node_function_map]\nnode1 = func1\n[function_role_map]\nfunc1 = a\n  b,c\n', line: 5, message: /role 'b,c' is not a valid name/, expected: /letters, digits/ },
    { name: 'universal redefined', text: `[groups]\nuniversal = node1\n${GOOD_TAIL}`, line: 2, message: /built in/, expected: /another group name/ },
    { name: 'empty key', text: `${GOOD_TAIL}= settz\n`, line: 5, message: /no key before '='/, expected: /name before '='/ },
    { name: 'both [general] and [secrets]', text: `[general]\n[secrets]\n${GOOD_TAIL}`, line: 2, message: /both present/, expected: /older name/ },
  ];

  it.each(cases)('$name', async ({ text, line, message, expected }) => {
    const { error, dir } = await failure({ 'inventory.conf': text });
    const file = path.join(dir, 'inventory.conf');
    expect(error.code).toBe('E_INVENTORY');
    expect(error.where).toBe(`${file}:${line}`);
    expect(error.message).toMatch(message);
    expect(error.expected).toMatch(expected);
    // The CLI prints formatError(): one line naming file:line, the problem and what was expected.
    const shown = formatError(error);
    expect(shown.startsWith(`${file}:${line}: `)).toBe(true);
    expect(shown).toContain('expected ');
  });

  it('has at least ten malformed cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it('names a missing inventory file', async () => {
    const dir = await siteWith({});
    const error = await inventoryConf(path.join(dir, 'inventory.conf')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FettleError);
    expect((error as FettleError).where).toBe(path.join(dir, 'inventory.conf'));
    expect((error as FettleError).expected).toMatch(/readable inventory.conf/);
  });
});

const INVENTORY = `[groups]
web = node1 node2
db = node2

[node_function_map]
node1 = func1
node2 = func1
node3 = func1

[function_role_map]
func1 = settz
`;

describe('group and node files', () => {
  it('merges vars universal → groups in inventory order → node, later wins, and explains origins', async () => {
    const dir = await siteWith({
      'inventory.conf': INVENTORY,
      'groups/universal.json': JSON.stringify({ vars: { tz: 'UTC', motd: 'hello', ntp: ['pool'] }, user: 'admin' }),
      'groups/web.json': JSON.stringify({ vars: { motd: 'web', port: 80 }, port: 2222, transportOptions: { a: 1, b: 1 } }),
      'groups/db.json': JSON.stringify({ vars: { motd: 'db', backup: true }, transportOptions: { b: 2 } }),
      'nodes/node2.json': JSON.stringify({ address: '10.0.0.2', port: 22, vars: { tz: 'Europe/Paris' }, readonly: true }),
      'nodes/node3.json': JSON.stringify({ transport: 'local' }),
    });
    const store = await inventoryConf(path.join(dir, 'inventory.conf'));
    const [node1, node2, node3] = await store.listHosts();
    const file = (name: string): string => path.join(dir, name);

    expect(node1?.vars).toEqual({ tz: 'UTC', motd: 'web', ntp: ['pool'], port: 80 });
    expect(node2?.vars).toEqual({ tz: 'Europe/Paris', motd: 'db', ntp: ['pool'], port: 80, backup: true });
    expect(node2).toMatchObject({ address: '10.0.0.2', port: 22, user: 'admin', transport: 'ssh', transportOptions: { a: 1, b: 2 }, readonly: true });
    expect(node1).toMatchObject({ address: undefined, port: 2222, user: 'admin', readonly: false });
    expect(node3).toMatchObject({ transport: 'local', user: 'admin', vars: { tz: 'UTC', motd: 'hello', ntp: ['pool'] } });

    expect(store.explainVars('node2')).toEqual([
      { name: 'backup', value: true, source: file('groups/db.json'), overridden: [] },
      {
        name: 'motd',
        value: 'db',
        source: file('groups/db.json'),
        overridden: [
          { value: 'hello', source: file('groups/universal.json') },
          { value: 'web', source: file('groups/web.json') },
        ],
      },
      { name: 'ntp', value: ['pool'], source: file('groups/universal.json'), overridden: [] },
      { name: 'port', value: 80, source: file('groups/web.json'), overridden: [] },
      { name: 'tz', value: 'Europe/Paris', source: file('nodes/node2.json'), overridden: [{ value: 'UTC', source: file('groups/universal.json') }] },
    ]);
    // A Host object works as well as a name.
    expect(store.explainVars(node3!).map((v) => [v.name, v.source])).toEqual([
      ['motd', file('groups/universal.json')],
      ['ntp', file('groups/universal.json')],
      ['tz', file('groups/universal.json')],
    ]);
    expect(() => store.explainVars('nodeX')).toThrow(/no host named 'nodeX'/);
  });

  it('uses other folders when told', async () => {
    const dir = await siteWith({
      'inventory.conf': INVENTORY,
      'inv/n/node1.json': JSON.stringify({ vars: { x: 1 } }),
      'nodes/node1.json': '{ broken',
    });
    const store = await inventoryConf(path.join(dir, 'inventory.conf'), { nodesDir: 'inv/n', defaultTransport: 'local' });
    const [node1] = await store.listHosts();
    expect(node1).toMatchObject({ vars: { x: 1 }, transport: 'local' });
  });

  const fileCases: readonly { name: string; files: Record<string, string>; file: string; line: number; message: RegExp; expected: RegExp }[] = [
    {
      name: 'invalid JSON',
      files: { 'nodes/node1.json': '{\n  "address": "a",\n  "port": 22,\n}\n' },
      file: 'nodes/node1.json',
      line: 4,
      message: /invalid JSON/,
      expected: /JSON object/,
    },
    {
      name: 'unknown attribute',
      files: { 'nodes/node1.json': '{\n  "address": "a",\n  "hostname": "b"\n}\n' },
      file: 'nodes/node1.json',
      line: 3,
      message: /unknown attribute 'hostname'/,
      expected: /address, port, user/,
    },
    {
      name: 'wrong type',
      files: { 'groups/web.json': '{\n  "vars": {},\n  "port": "22"\n}\n' },
      file: 'groups/web.json',
      line: 3,
      message: /'port': expected number/,
      expected: /vars, user, port/,
    },
    {
      name: 'file for an unknown node',
      files: { 'nodes/nod1.json': '{}' },
      file: 'nodes/nod1.json',
      line: 1,
      message: /matches no node/,
      expected: /node1, node2, node3/,
    },
    {
      name: 'file for an unknown group',
      files: { 'groups/webs.json': '{}' },
      file: 'groups/webs.json',
      line: 1,
      message: /matches no group/,
      expected: /universal, web, db/,
    },
  ];

  it.each(fileCases)('$name names the file and line', async ({ files, file, line, message, expected }) => {
    const { error, dir } = await failure({ 'inventory.conf': INVENTORY, ...files });
    expect(error.code).toBe('E_INVENTORY');
    expect(error.where).toBe(`${path.join(dir, file)}:${line}`);
    expect(error.message).toMatch(message);
    expect(error.expected).toMatch(expected);
  });
});

describe('plugin', () => {
  it('creates the store by name, relative to the site folder', async () => {
    const dir = await siteWith({ 'conf/inv.conf': DOC_EXAMPLE });
    expect(plugin.name).toBe('@fettle/inventory-conf');
    expect(plugin.version).toMatch(/^\d+\.\d+\.\d+/);
    const definition = plugin.hostStores?.[0];
    expect(definition?.name).toBe('inventory-conf');
    const store = await definition!.create({ path: 'conf/inv.conf' }, { siteDir: dir });
    expect((await store.listHosts()).map((h) => h.name)).toEqual(['node1']);
    await expect(definition!.create({ path: 'conf/inv.conf', colour: 'red' }, { siteDir: dir })).rejects.toThrow(/unknown attribute 'colour'/);
  });
});

describe('paths', () => {
  it('accepts a file: URL', async () => {
    const dir = await siteWith({ 'inventory.conf': DOC_EXAMPLE });
    const store = await inventoryConf(new URL(`file://${path.join(dir, 'inventory.conf')}`));
    expect(store.path).toBe(path.join(dir, 'inventory.conf'));
  });
});
