// Template drift through the real CLI: the stamp keeps the sha256 of what was rendered,
// so verify flags a hand edit without rendering; plan renders and shows the diff; a
// broken template fails plan before any host, with its file and line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '../../../packages/cli/dist/bin.js');
const plugin = path.resolve(here, '../dist/index.js');
const sitesRoot = path.resolve(here, '../node_modules/.cache/fettle-test-sites');
let dir: string;

const config = `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import templates from '${pathToFileURL(plugin).href}';

export default defineSite({
  plugins: [files, local, templates],
  hosts: new MemoryHostStore({
    hosts: { web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' }, vars: { version: '1.25', workers: 4 } } },
    defaultRoles: ['web'],
  }),
  roles: {
    web: () => ({
      'directory:/etc': {},
      'template:/etc/app.conf': { source: 'templates/app.conf.eta', context: { port: 8080 } },
    }),
  },
});
`;
const TEMPLATE = '<% hash %><%= vars.version %><% /hash %>\n# app <%= vars.version %>\nworkers <%= vars.workers %>\nlisten <%= context.port %>\n';

function fettle(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, '--site', dir, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
const onHost = (): string => readFileSync(path.join(dir, 'sandbox/web1/etc/app.conf'), 'utf8');

beforeAll(() => {
  mkdirSync(sitesRoot, { recursive: true });
  dir = mkdtempSync(path.join(sitesRoot, 'drift-'));
  mkdirSync(path.join(dir, 'templates'));
  writeFileSync(path.join(dir, 'fettle.config.mjs'), config);
  writeFileSync(path.join(dir, 'templates/app.conf.eta'), TEMPLATE);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(bin) || !existsSync(plugin))('a template with a hash block, edited on the host', () => {
  it('verify flags the hand edit without rendering (exit 1); plan shows the render; apply restores it', () => {
    expect(fettle('apply').code).toBe(0);
    expect(onHost()).toBe('# app 1.25\nworkers 4\nlisten 8080\n');
    expect(fettle('verify').code).toBe(0);

    writeFileSync(path.join(dir, 'sandbox/web1/etc/app.conf'), '# app 1.25\nworkers 64\nlisten 8080\n');
    // The body changes too, outside the hash block: verify does not render it, so it cannot show it.
    writeFileSync(path.join(dir, 'templates/app.conf.eta'), TEMPLATE.replace('# app', '# the app'));
    const verify = fettle('verify');
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/≠ template:\/etc\/app\.conf {2}drift/);
    expect(verify.stdout).toMatch(/content {2}edited on the host → as rendered/);
    expect(verify.stdout).not.toContain('the app');
    const json = JSON.parse(fettle('verify', '--json').stdout) as { summary: { drift: number } };
    expect(json.summary.drift).toBe(1);

    const plan = fettle('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('would change');
    expect(plan.stdout).toContain('-workers 64');
    expect(plan.stdout).toContain('+workers 4');
    expect(plan.stdout).toContain('+# the app 1.25');

    expect(fettle('apply').code).toBe(0);
    expect(onHost()).toBe('# the app 1.25\nworkers 4\nlisten 8080\n');
    expect(fettle('verify').code).toBe(0);
  });

  it('a broken template fails plan with exit 3, naming its file and line, before any host', () => {
    writeFileSync(path.join(dir, 'templates/app.conf.eta'), TEMPLATE.replace('listen <%= context.port %>', 'listen <%= context.port %>\ntls <%= context.tls.port %>'));
    const before = onHost();
    for (const command of ['plan', 'apply', 'verify']) {
      const run = fettle(command);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/template templates\/app\.conf\.eta:5, host web1, role web \(fettle\.config\.mjs:\d+\), item template:\/etc\/app\.conf: ReferenceError: context\.tls is not defined/);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
    writeFileSync(path.join(dir, 'templates/app.conf.eta'), '<% hash %><%= vars.version %><% /hash %>\n<% if (vars.workers { %>\n');
    const syntax = fettle('plan');
    expect(syntax.code).toBe(3);
    expect(syntax.stderr).toMatch(/template templates\/app\.conf\.eta:2.*SyntaxError/);
    expect(onHost()).toBe(before);
  });
});
