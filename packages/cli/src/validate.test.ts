import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, example, removedAfterAll, sitesRoot } from './test-sites.js';

const made = removedAfterAll();

function fettle(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function siteDir(prefix: string): string {
  const dir = mkdtempSync(path.join(sitesRoot, prefix));
  made.push(dir);
  return dir;
}

const SECRET = `validate-secret-${Math.random().toString(36).slice(2)}`;

/**
 * One site, one broken host per problem (and one sound host), so the test also
 * shows that validate lists every problem rather than stopping at the first.
 */
function brokenSite(): string {
  const dir = siteDir('broken-');
  mkdirSync(path.join(dir, 'secrets'));
  const keyFile = path.join(dir, '..', `${path.basename(dir)}.controller.key`);
  made.push(keyFile);
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  chmodSync(keyFile, 0o600);
  const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(dir, 'secrets/db.age'), execFileSync('age', ['-a', '-r', recipient], { input: SECRET }));
  writeFileSync(path.join(dir, 'secrets/db.readers.json'), JSON.stringify({ hosts: ['good'] }));
  const host = (roles: string[], transport = 'local') => `{ transport: '${transport}', transportOptions: { root: 'sandbox' }, roles: ${JSON.stringify(roles)} }`;
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import ageSecrets, { ageSecretStore } from '@fettle/secrets-age';

export default defineSite({
  plugins: [files, local, ageSecrets],
  hosts: new MemoryHostStore({ hosts: {
    good: ${host(['sound', 'withSecret'])},
    typo: ${host(['unknownType'])},
    attr: ${host(['badAttribute'])},
    loop: ${host(['cycle'])},
    norole: ${host(['missingRole'])},
    wire: ${host(['sound'], 'carrier-pigeon')},
    nosecret: ${host(['missingSecret'])},
    reader: ${host(['withSecret'])},
    twice: ${host(['claimA', 'claimB'])},
    crash: ${host(['throws'])},
  } }),
  secrets: ageSecretStore({ dir: import.meta.dirname, controllerRecipient: ${JSON.stringify(recipient)}, keySource: { file: ${JSON.stringify(keyFile)} } }),
  roles: {
    sound: () => ({ 'file:/etc/sound': { content: 'ok\\n' } }),
    withSecret: (_host, { secret }) => ({ 'file:/etc/db.conf': { content: secret('db') } }),
    unknownType: () => ({ 'fiel:/etc/typo': {} }),
    badAttribute: () => ({ 'file:/etc/attr': { mode: 'rwxr-xr-x' } }),
    cycle: () => ({ 'file:/etc/a': { needs: ['file:/etc/b'] }, 'file:/etc/b': { needs: ['file:/etc/a'] } }),
    missingSecret: (_host, { secret }) => ({ 'file:/etc/api': { content: secret('api-token') } }),
    claimA: () => ({ 'file:/etc/shared': { content: 'from A\\n' } }),
    claimB: () => ({ 'file:/etc/shared': { content: 'from B\\n' } }),
    throws: () => { throw new Error('role crashed: vars.port is missing'); },
  },
});
`,
  );
  return dir;
}

describe('fettle validate', () => {
  it('passes the example site (exit 0) without touching a host', () => {
    const dir = siteDir('example-');
    for (const entry of ['fettle.config.ts', 'roles', 'items']) cpSync(path.join(example, entry), path.join(dir, entry), { recursive: true });
    const result = fettle(['validate', '--site', dir, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, hosts: 2, problems: [] });
    expect(fettle(['validate', '--site', dir]).stdout).toMatch(/2 hosts prepared, no problem found/);
    // Nothing was created: validate contacts no host.
    expect(spawnSync('ls', [path.join(dir, 'sandbox')]).status).not.toBe(0);
  });

  it('finds every problem of a corpus of broken hosts (exit 3), one per host, and leaks no secret', () => {
    const dir = brokenSite();
    const result = fettle(['validate', '--site', dir, '--json']);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as { ok: boolean; hosts: number; problems: { host: string; message: string }[] };
    expect(report.ok).toBe(false);
    expect(report.hosts).toBe(10);
    const byHost = Object.fromEntries(report.problems.map((problem) => [problem.host, problem.message]));
    expect(Object.keys(byHost).sort()).toEqual(['attr', 'crash', 'loop', 'norole', 'nosecret', 'reader', 'twice', 'typo', 'wire']);
    expect(byHost['typo']).toMatch(/item fiel:\/etc\/typo: unknown item type 'fiel'/);
    expect(byHost['attr']).toMatch(/item file:\/etc\/attr.*mode/);
    expect(byHost['loop']).toMatch(/cycle/);
    expect(byHost['norole']).toMatch(/role 'missingRole', which the site does not define/);
    expect(byHost['wire']).toMatch(/unknown transport 'carrier-pigeon'/);
    expect(byHost['nosecret']).toMatch(/no secret named 'api-token'/);
    expect(byHost['reader']).toMatch(/host 'reader' may not read secret 'db'/);
    expect(byHost['twice']).toMatch(/item 'file:\/etc\/shared' is defined twice \(roles claimA and claimB\)/);
    expect(byHost['crash']).toMatch(/role crashed: vars\.port is missing/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(SECRET);

    const text = fettle(['validate', '--site', dir]);
    expect(text.code).toBe(3);
    expect(text.stderr).toMatch(/^typo: /m);
    expect(text.stderr).toMatch(/9 problems in site/);
    expect(text.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('reports a site that does not load as one problem, exit 3', () => {
    const dir = siteDir('noload-');
    writeFileSync(path.join(dir, 'fettle.config.ts'), `export default { plugins: [], roles: {} };\n`);
    const result = fettle(['validate', '--site', dir]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/hosts/);
  });
});
