// `fettle items HOST --preview ITEM`, through the real CLI binary.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '../../../packages/cli/dist/bin.js');
// Under this package's node_modules, so the site resolves @fettle/* from there (the plugin itself by path).
const plugin = path.resolve(here, '../dist/index.js');
const sitesRoot = path.resolve(here, '../node_modules/.cache/fettle-test-sites');
let dir: string;

const config = `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import templates from '${pathToFileURL(plugin).href}';

export default defineSite({
  plugins: [files, local, templates],
  secrets: { describe: 'test', list: async () => ['db'], get: async () => 'not-for-your-eyes', set: async () => undefined },
  hosts: new MemoryHostStore({
    hosts: { web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' }, vars: { version: '1.25', workers: 4 } } },
    defaultRoles: ['web'],
  }),
  roles: {
    web: (host, { secret }) => ({
      'template:/etc/nginx/nginx.conf': { source: 'templates/nginx.conf.eta', context: { port: 8080, password: secret('db') } },
      'file:/etc/motd': { content: 'hi' },
    }),
  },
});
`;

function fettle(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, '--site', dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  mkdirSync(sitesRoot, { recursive: true });
  dir = mkdtempSync(path.join(sitesRoot, 'preview-'));
  mkdirSync(path.join(dir, 'templates'));
  writeFileSync(path.join(dir, 'fettle.config.mjs'), config);
  writeFileSync(
    path.join(dir, 'templates/nginx.conf.eta'),
    '<% hash %><%= vars.version %><% /hash %>\n# nginx for <%= host.name %>\nworker_processes <%= vars.workers %>;\nlisten <%= context.port %>;\nauth <%= context.password %> <%= secret("api") %>\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Both binaries come from `pnpm build`; without them there is nothing to spawn.
describe.skipIf(!existsSync(bin) || !existsSync(plugin))('fettle items HOST --preview ITEM', () => {
  it('prints the rendered file, secrets redacted, without touching the host', () => {
    const { code, stdout, stderr } = fettle('items', 'web1', '--preview', 'template:/etc/nginx/nginx.conf');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('# nginx for web1\nworker_processes 4;\nlisten 8080;\nauth <secret:db> <secret:api>\n');
    expect(existsSync(path.join(dir, 'sandbox'))).toBe(false);
  });

  it('gives JSON with --json, and says which items cannot be previewed', () => {
    const json = fettle('--json', 'items', 'web1', '--preview', 'template:/etc/nginx/nginx.conf');
    const document = JSON.parse(json.stdout) as { host: string; item: string; content: string };
    expect([document.host, document.item]).toEqual(['web1', 'template:/etc/nginx/nginx.conf']);
    expect(document.content).toContain('listen 8080;');
    const file = fettle('items', 'web1', '--preview', 'file:/etc/motd');
    expect(file.code).toBe(3);
    expect(file.stderr).toMatch(/items of type 'file' have no preview/);
    const missing = fettle('items', 'web1', '--preview', 'template:/nope');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/host web1 has no item 'template:\/nope'/);
  });

  it('names the template file and line of an error', () => {
    writeFileSync(path.join(dir, 'templates/nginx.conf.eta'), 'ok\nworker_processes <%= vars.nope.x %>;\n');
    const { code, stderr } = fettle('items', 'web1', '--preview', 'template:/etc/nginx/nginx.conf');
    expect(code).toBe(3);
    expect(stderr).toMatch(/^fettle: template templates\/nginx\.conf\.eta:2: ReferenceError: vars\.nope is not defined/);
  });
});
