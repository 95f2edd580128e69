import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bin, sitesRoot } from './test-sites.js';

const dir = mkdtempSync(path.join(sitesRoot, 'secrets-'));
afterAll(() => { if (!process.env['KEEP']) rmSync(dir, { recursive: true, force: true }); });

const SECRET = `s3cr3t-${Math.random().toString(36).slice(2)}-value`;

function fettle(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [bin, ...args, '--site', dir], { encoding: 'utf8', input, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Every file under a folder, as text, for scanning what fettle left on disk. */
function everythingOnDisk(folder: string): string {
  let text = '';
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += readFileSync(path.join(entry.parentPath, entry.name), 'latin1');
  }
  return text;
}

describe('a secret from the age CLI, used in a file item', () => {
  // The controller key comes from age-keygen and the secret from `age -r … -a`: fettle reads what the CLI wrote.
  mkdirSync(path.join(dir, 'keys'), { recursive: true });
  mkdirSync(path.join(dir, 'secrets'), { recursive: true });
  const keyFile = path.join(dir, 'keys/controller.key');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  chmodSync(keyFile, 0o600);
  const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(dir, 'secrets/api.age'), execFileSync('age', ['-a', '-r', recipient], { input: SECRET }));
  writeFileSync(path.join(dir, 'secrets/api.readers.json'), JSON.stringify({ hosts: ['web1'] }));
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite, secret } from '@fettle/core';
import files from '@fettle/items-files';
import local from '@fettle/transport-local';
import ageSecrets, { ageSecretStore } from '@fettle/secrets-age';

export default defineSite({
  plugins: [files, local, ageSecrets],
  hosts: new MemoryHostStore({ hosts: { web1: { transport: 'local', transportOptions: { root: 'sandbox/web1' } } }, defaultRoles: ['app'] }),
  secrets: ageSecretStore({ dir: ${JSON.stringify(dir)}, controllerRecipient: ${JSON.stringify(recipient)}, keySource: { file: 'keys/controller.key' } }),
  roles: {
    app: () => ({
      'directory:/etc/app': {},
      'file:/etc/app/token': { content: secret('api') },
      // An attribute whose error message would quote it: the message must show <secret:api>.
      'file:/etc/app/owned': { content: 'x', owner: secret('api') },
    }),
  },
});
`,
  );

  it('never shows the plaintext in plan, apply, verify, --json or errors, nor in files fettle keeps', () => {
    const runs = [
      fettle(['plan']),
      fettle(['plan', '--json']),
      fettle(['apply']),
      fettle(['apply', '--json']),
      fettle(['verify', '--json']),
      fettle(['items', 'web1']),
      fettle(['items', 'web1', '--json']),
      fettle(['apply', '--debug']),
    ];
    const output = runs.map((run) => run.out).join('\n');
    expect(output).not.toContain(SECRET);
    expect(output).toContain('<secret:api>');
    // The item that quotes its owner failed, and said so with the secret redacted.
    expect(output).toMatch(/unknown user '<secret:api>'/);
    expect(runs[2]?.code).toBe(1);

    const token = path.join(dir, 'sandbox/web1/etc/app/token');
    expect(readFileSync(token, 'utf8')).toBe(SECRET);
    expect(statSync(token).mode & 0o777).toBe(0o600);
    // Outside the file it was written to, fettle keeps the plaintext nowhere (caches, stamps, compiled config).
    rmSync(token);
    expect(everythingOnDisk(dir)).not.toContain(SECRET);
  });

  it('reads the same secret back through fettle secret get, and the age CLI reads what fettle writes', () => {
    expect(fettle(['secret', 'get', 'api']).out).toBe(SECRET);
    const other = `other-${SECRET}`;
    expect(fettle(['secret', 'set', 'other', '--raw'], other).code).toBe(0);
    expect(execFileSync('age', ['-d', '-i', path.join(dir, 'keys/controller.key'), path.join(dir, 'secrets/other.age')], { encoding: 'utf8' })).toBe(other);
  });
});

describe('secret input errors: exit 3, each with its own message naming the secret and the file', () => {
  const secretsDir = path.join(dir, 'secrets');
  const keyFile = path.join(dir, 'keys/controller.key');
  const recipient = (): string => execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();

  it('missing, not an age file, truncated, encrypted to other keys, wrong key file', () => {
    const apiFile = path.join(secretsDir, 'api.age');
    writeFileSync(path.join(secretsDir, 'garbage.age'), 'this is not encrypted\n');
    const armored = readFileSync(apiFile, 'utf8');
    writeFileSync(path.join(secretsDir, 'cut.age'), armored.slice(0, Math.floor(armored.length / 2)));
    const binary = execFileSync('age', ['-r', recipient()], { input: SECRET });
    writeFileSync(path.join(secretsDir, 'cutbin.age'), binary.subarray(0, binary.length - 20));
    const otherKey = path.join(dir, 'keys/other.key');
    execFileSync('age-keygen', ['-o', otherKey], { stdio: 'ignore' });
    chmodSync(otherKey, 0o600);
    const otherRecipient = execFileSync('age-keygen', ['-y', otherKey], { encoding: 'utf8' }).trim();
    writeFileSync(path.join(secretsDir, 'foreign.age'), execFileSync('age', ['-a', '-r', otherRecipient], { input: SECRET }));

    const cases: [string, RegExp][] = [
      ['nope', new RegExp(`${path.join(secretsDir, 'nope.age')}: no secret named 'nope'`)],
      ['garbage', new RegExp(`${path.join(secretsDir, 'garbage.age')}: secret 'garbage' is not an age file`)],
      ['cut', new RegExp(`${path.join(secretsDir, 'cut.age')}: secret 'cut' is truncated or damaged: the armored file is truncated or damaged`)],
      ['cutbin', new RegExp(`${path.join(secretsDir, 'cutbin.age')}: secret 'cutbin' is truncated or damaged: the file is truncated or damaged`)],
      ['foreign', new RegExp(`${path.join(secretsDir, 'foreign.age')}: secret 'foreign' is not encrypted to the controller key age1\\w+: it was encrypted to other keys`)],
    ];
    const messages = new Set<string>();
    for (const [name, expected] of cases) {
      const run = fettle(['secret', 'get', name]);
      expect(run.code, run.out).toBe(3);
      expect(run.out).toMatch(expected);
      expect(run.out).not.toMatch(/\n\s+at /); // no stack without --debug
      messages.add(run.out.replace(/'[^']*'/g, "'…'").replace(/\/\S+/g, 'PATH'));
    }

    // The wrong key file: the controller key file holds another key.
    const saved = readFileSync(keyFile);
    writeFileSync(keyFile, readFileSync(otherKey));
    try {
      const run = fettle(['secret', 'get', 'api']);
      expect(run.code, run.out).toBe(3);
      expect(run.out).toContain(`${keyFile}: cannot decrypt secret 'api': the key file ${keyFile} holds ${otherRecipient}, not the controller key`);
      messages.add(run.out);
      // Same through a run: bad input, found before any host is touched.
      const plan = fettle(['plan']);
      expect(plan.code, plan.out).toBe(3);
      expect(plan.out).toContain(`cannot decrypt secret 'api'`);
    } finally {
      writeFileSync(keyFile, saved);
      chmodSync(keyFile, 0o600);
    }
    expect(messages.size).toBe(cases.length + 1);
    for (const name of ['garbage', 'cut', 'cutbin', 'foreign']) rmSync(path.join(secretsDir, `${name}.age`));
  });
});
