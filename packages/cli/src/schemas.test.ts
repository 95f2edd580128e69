// Every --json output of plan, apply, verify, items, hosts and tasks, and the error
// object, validated against the schemas published in @fettle/cli/schemas/ (ajv, strict).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { example, removedAfterAll, runInProcess, sitesRoot } from './test-sites.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const schemaDir = path.resolve(here, '../schemas');
const made = removedAfterAll();

const ajv = new Ajv2020({ strict: true, allErrors: true });
function validator(name: string): (value: unknown) => void {
  const schema = JSON.parse(readFileSync(path.join(schemaDir, `${name}.schema.json`), 'utf8')) as { $id: string };
  const validate = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  return (value) => {
    const ok = validate(value);
    expect(ok, `${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value, null, 2).slice(0, 2000)}`).toBe(true);
  };
}

async function json(args: readonly string[]): Promise<{ code: number; document: unknown }> {
  const { code, stdout } = await runInProcess([...args, '--json']);
  return { code, document: JSON.parse(stdout) as unknown };
}

/** The example site, with a readonly host, a triggered item, a task and an unreachable host added. */
function exampleSite(): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'schemas-'));
  made.push(dir);
    for (const entry of ['fettle.config.ts', 'roles', 'items', 'templates', 'inventory.conf', 'nodes', 'groups']) {
    try {
      cpSync(path.join(example, entry), path.join(dir, entry), { recursive: true });
    } catch {
      // not every example has every folder
    }
  }
  return dir;
}

function ownSite(): string {
  const dir = mkdtempSync(path.join(sitesRoot, 'schemas-own-'));
  made.push(dir);
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, UnreachableError, defineSite, definePlugin, defineTransport, z } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';

const refuse = () => Promise.reject(new Error('sudo: a terminal is required to read the password'));
const odd = definePlugin({
  name: 'odd-transports',
  transports: [
    defineTransport({ name: 'refused', description: 'connection refused', options: z.object({}).passthrough(), connect: () => Promise.reject(new UnreachableError('refused', 'connection refused')) }),
    defineTransport({ name: 'sudoless', description: 'refuses every command', options: z.object({}).passthrough(),
      connect: async () => ({ root: '/', exec: refuse, readFile: refuse, writeFile: refuse, stat: refuse, close: async () => undefined }) }),
  ],
});

export default defineSite({
  plugins: [files, local, odd],
  hosts: new MemoryHostStore({
    hosts: {
      web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' }, vars: { port: 80 } },
      ro1: { transport: 'local', transportOptions: { root: 'sandbox/ro1' }, readonly: true },
      gone1: { transport: 'refused' },
      sudo1: { transport: 'sudoless' },
    },
    defaultRoles: ['base'],
  }),
  roles: {
    base: () => ({
      items: {
        'directory:/etc': {},
        'file:/etc/motd': { content: 'hello', triggers: ['file:/etc/reloaded'] },
        'file:/etc/reloaded': { content: 'x', triggered: true },
      },
      tasks: [{ id: 'setup', description: 'a setup task', hash: () => '1', run: async () => undefined }],
    }),
  },
});
`,
  );
  return dir;
}

describe('--json outputs validate against the published schemas', () => {
  const run = validator('run');
  const error = validator('error');

  it('plan, apply, verify (with drift, a readonly host, a triggered item, a task, a failing host)', async () => {
    const dir = ownSite();
    for (const mode of ['plan', 'apply', 'verify']) {
      const result = await json([mode, '--site', dir]);
      run(result.document);
    }
    writeFileSync(path.join(dir, 'sandbox/web1/etc/motd'), 'edited\n');
    const drift = await json(['verify', '--site', dir, 'web1']);
    expect(drift.code).toBe(1);
    run(drift.document);
    expect(JSON.stringify(drift.document)).toMatch(/"status": ?"drift"/);
  });

  it('plan and apply of the example site', async () => {
    const dir = exampleSite();
    run((await json(['plan', '--site', dir])).document);
    run((await json(['apply', '--site', dir])).document);
  });

  it('items, items --preview, hosts, hosts --vars, tasks', async () => {
    const dir = ownSite();
    validator('items')((await json(['items', 'web1', '--site', dir])).document);
    validator('hosts')((await json(['hosts', '--site', dir])).document);
    validator('hosts')((await json(['hosts', '--site', dir, '--vars'])).document);
    validator('tasks')((await json(['tasks', 'web1', '--site', dir])).document);
    validator('items')((await json(['items', 'node1', '--site', exampleSite()])).document);
    const templated = mkdtempSync(path.join(sitesRoot, 'schemas-template-'));
    made.push(templated);
    writeFileSync(path.join(templated, 'motd.eta'), 'Hello from <%= host.name %>\n');
    writeFileSync(
      path.join(templated, 'fettle.config.ts'),
      `import { MemoryHostStore, defineSite } from '@fettle/core';
import local from '@fettle/transport-local';
import templates from '${pathToFileURL(path.resolve(here, '../../../plugins/template-eta/dist/index.js')).href}';
export default defineSite({
  plugins: [local, templates],
  hosts: new MemoryHostStore({ hosts: { web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }, defaultRoles: ['base'] }),
  roles: { base: () => ({ 'template:/motd': { source: 'motd.eta' } }) },
});
`,
    );
    const preview = await json(['items', 'web1', '--site', templated, '--preview', 'template:/motd']);
    expect(preview.code).toBe(0);
    validator('items-preview')(preview.document);
    expect(preview.document).toEqual({ host: 'web1', item: 'template:/motd', content: 'Hello from web1\n' });
  });

  it('the error object, for bad input, bad arguments and a failure of a plugin', async () => {
    const dir = ownSite();
    for (const args of [['apply', 'nosuchhost'], ['apply', '-j', 'many'], ['items', 'nosuch'], ['plan', '--bogus'], ['tasks', 'nosuch']]) {
      const result = await json([...args, '--site', dir]);
      expect(result.code, args.join(' ')).toBe(3);
      error(result.document);
    }
    const broken = mkdtempSync(path.join(sitesRoot, 'schemas-broken-'));
    made.push(broken);
    writeFileSync(path.join(broken, 'fettle.config.ts'), 'export default {\n');
    const compile = await json(['plan', '--site', broken]);
    expect(compile.code).toBe(3);
    error(compile.document);
  });
});
