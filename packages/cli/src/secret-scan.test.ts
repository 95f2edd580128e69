// The scan test: one site whose secrets come in every shape (one line, a PEM-like block, random
// bytes) and reach items by every route (file content, a template's context, a secret() call in a
// template, an action command, a mistyped attribute). Every CLI command runs on it over a real sshd
// (SFTP and sudo) and the local transport, with a private HOME, TMPDIR and XDG folders; everything
// it printed and every file it wrote outside the targets is searched for each secret, each of its
// lines of 8+ characters, and its base64 and hex forms.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeKey, createAptTestRepo, createTestUser, grantNopasswdSudo, sshdForTests, type TestUser } from '@fettle/testkit';
import { bin, sitesRoot } from './test-sites.js';


const word = (): string => randomBytes(12).toString('base64url');
const TOKEN = `tok-${word()}-${word()}`;
const ROTATED = `rot-${word()}-${word()}`;
const PEM = ['-----BEGIN FETTLE SCAN KEY-----', ...Array.from({ length: 5 }, () => randomBytes(36).toString('base64')), '-----END FETTLE SCAN KEY-----', ''].join('\n');
// Random bytes that are not UTF-8 (a keytab, say), with a newline inside so it has "lines" too.
const KEYTAB = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), randomBytes(40), Buffer.from('\n'), randomBytes(40)]);

// sync-repos runs the real apt-get update against a private repository on this disk, never the network:
// every session carries APT_CONFIG (the kit's SHLVL=1 on the same line: sshd keeps the first SetEnv).
const aptRepo = createAptTestRepo(1);
const sshd = sshdForTests({ hosts: ['web1', 'web2'], extraConfig: `SetEnv APT_CONFIG=${aptRepo.env.APT_CONFIG} SHLVL=1` });
const site = mkdtempSync(path.join(sitesRoot, 'scan-'));
// What fettle may write outside the targets: all of it is scanned.
const outside = mkdtempSync(path.join(os.tmpdir(), 'fettle-scan-'));
const env = {
  HOME: path.join(outside, 'home'),
  TMPDIR: path.join(outside, 'tmp'),
  XDG_CONFIG_HOME: path.join(outside, 'config'),
  XDG_CACHE_HOME: path.join(outside, 'cache'),
  XDG_STATE_HOME: path.join(outside, 'state'),
  XDG_DATA_HOME: path.join(outside, 'data'),
};
// The local host's target: written on purpose, so not scanned.
const localRoot = mkdtempSync(path.join(os.tmpdir(), 'fettle-scan-local-'));
const controllerKey = path.join(env.XDG_CONFIG_HOME, 'fettle', 'controller.key');
let sudoUser: TestUser;
let controllerRecipient = '';
const cleanups: (() => Promise<void>)[] = [];

interface Run {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}
const runs: Run[] = [];

function fettle(args: readonly string[], options: { input?: Buffer | string; extraEnv?: Record<string, string> } = {}): Run {
  const result = spawnSync(process.execPath, [bin, ...args, '--site', site], {
    input: options.input,
    env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', ...env, ...aptRepo.env, ...options.extraEnv },
    timeout: 120_000,
  });
  const run = { args, code: result.status, stdout: result.stdout, stderr: result.stderr };
  runs.push(run);
  return run;
}

const text = (run: Run): string => `${run.stdout.toString('utf8')}${run.stderr.toString('utf8')}`;

/** Each secret, each of its lines of 8+ bytes, and the base64 and hex of the whole: what must never appear. */
function needles(name: string, value: Buffer): { what: string; bytes: Buffer }[] {
  const found = [{ what: `${name}`, bytes: value }];
  let start = 0;
  for (let index = 0; index <= value.length; index++) {
    if (index === value.length || value[index] === 0x0a) {
      const line = value.subarray(start, index);
      if (line.length >= 8) found.push({ what: `${name} line at byte ${start}`, bytes: line });
      start = index + 1;
    }
  }
  found.push({ what: `${name} base64`, bytes: Buffer.from(value.toString('base64')) });
  found.push({ what: `${name} hex`, bytes: Buffer.from(value.toString('hex')) });
  return found;
}

/** Every file under a folder, skipping the ones given, with its path. */
function filesUnder(folder: string, skip: (file: string) => boolean = () => false): { file: string; data: Buffer }[] {
  const files: { file: string; data: Buffer }[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && !skip(file)) files.push({ file, data: readFileSync(file) });
  }
  return files;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  await sshd.start();
  const kit = sshd.get();
  for (const folder of Object.values(env)) mkdirSync(folder, { recursive: true });
  // The controller key where fettle looks by default: the per-user config folder, outside the site.
  mkdirSync(path.dirname(controllerKey), { recursive: true });
  execFileSync('age-keygen', ['-o', controllerKey], { stdio: 'ignore' });
  chmodSync(controllerKey, 0o600);
  const controller = execFileSync('age-keygen', ['-y', controllerKey], { encoding: 'utf8' }).trim();
  controllerRecipient = controller;

  // web2 logs in as a user with NOPASSWD sudo and writes everything through sudo.
  sudoUser = await createTestUser('fscan');
  cleanups.push(() => sudoUser.remove());
  cleanups.push(await grantNopasswdSudo(sudoUser, { keepEnv: ['APT_CONFIG'] }));
  cleanups.push(() => Promise.resolve(aptRepo.remove()));
  await authorizeKey(sudoUser, kit.clientPublicKey);

  // The secrets come from the age CLI, the binary one from random bytes.
  mkdirSync(path.join(site, 'secrets'), { recursive: true });
  mkdirSync(path.join(site, 'templates'));
  const readers = JSON.stringify({ hosts: ['web1', 'web2', 'local1'] });
  for (const [name, value, armor] of [['token', TOKEN, true], ['pem', PEM, true], ['keytab', KEYTAB, false]] as const) {
    writeFileSync(path.join(site, `secrets/${name}.age`), execFileSync('age', [...(armor ? ['-a'] : []), '-r', controller], { input: value }));
    writeFileSync(path.join(site, `secrets/${name}.readers.json`), readers);
  }
  writeFileSync(path.join(site, 'templates/app.conf.eta'), 'token = <%= context.token %>\n<%= context.pem %>\n');
  writeFileSync(path.join(site, 'templates/inline.eta'), "password=<%= secret('token') %>\n");
  const hosts = {
    web1: kit.inventoryHost('web1'),
    web2: { ...kit.inventoryHost('web2', { become: 'sudo' }), user: sudoUser.name },
    local1: { transport: 'local', transportOptions: { root: localRoot } },
  };
  writeFileSync(
    path.join(site, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import actions from '@fettle/items-action';
import templates from '@fettle/template-eta';
import ssh from '@fettle/transport-ssh';
import local from '@fettle/transport-local';
import fleet from '@fettle/fleet';
import ageSecrets, { ageSecretStore } from '@fettle/secrets-age';

const mistyped = process.env['SCAN_MISTYPED'];

export default defineSite({
  name: 'scan-site',
  plugins: [files, actions, templates, ssh, local, fleet, ageSecrets],
  hosts: new MemoryHostStore({ hosts: ${JSON.stringify(hosts)}, defaultRoles: ['app'] }),
  // No keySource: the controller key is read from $XDG_CONFIG_HOME/fettle/controller.key.
  secrets: ageSecretStore({ dir: import.meta.dirname, controllerRecipient: ${JSON.stringify(controller)} }),
  roles: {
    app: (_host, { secret }) => ({
      'directory:/etc/app': { mode: '0755' },
      'file:/etc/app/token': { content: secret('token') },
      'file:/etc/app/key.pem': { content: secret('pem') },
      'file:/etc/app/app.keytab': { content: secret('keytab') },
      'template:/etc/app/app.conf': { source: 'templates/app.conf.eta', context: { token: secret('token'), pem: secret('pem') } },
      'template:/etc/app/inline.conf': { source: 'templates/inline.eta' },
      'action:use-token': { command: \`test -n "\${secret('token')}"\` },
      // A failing item whose output is the secret itself.
      'action:fails': { command: \`printf '%s\\\\n' "\${secret('pem')}" "\${secret('token')}" >&2; exit 3\` },
      ...(mistyped ? { 'action:mistyped': { command: 'true', expected_return_code: secret(mistyped) } } : {}),
    }),
  },
});
`,
  );
}, 180_000);

afterAll(async () => {
  await sshd.stop();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  if (!process.env['KEEP']) for (const folder of [site, outside, localRoot]) rmSync(folder, { recursive: true, force: true });
});

describe('secrets never leak', () => {
  const SECRET_FILES = ['etc/app/token', 'etc/app/key.pem', 'etc/app/app.keytab', 'etc/app/app.conf', 'etc/app/inline.conf'];
  const roots = (): Record<string, string> => ({ web1: sshd.get().hosts['web1']?.root ?? '', web2: sshd.get().hosts['web2']?.root ?? '', local1: localRoot });

  it('apply writes every secret-bearing file 0600 over SFTP, sudo and locally, the binary secret byte-exact', () => {
    const apply = fettle(['apply']);
    expect(apply.code, text(apply)).toBe(1); // action:fails fails, and only it
    expect(text(apply)).toMatch(/action:fails {2}failed: host web1: command exited 3/);
    for (const [host, root] of Object.entries(roots())) {
      for (const file of SECRET_FILES) expect(statSync(path.join(root, file)).mode & 0o777, `${host} ${file}`).toBe(0o600);
      expect(sha256(readFileSync(path.join(root, 'etc/app/app.keytab'))), host).toBe(sha256(KEYTAB));
      expect(readFileSync(path.join(root, 'etc/app/key.pem'), 'utf8')).toBe(PEM);
      expect(readFileSync(path.join(root, 'etc/app/inline.conf'), 'utf8')).toBe(`password=${TOKEN}\n`);
    }
    expect(statSync(path.join(roots()['web2'] ?? '', 'etc/app/token')).uid).toBe(0); // written through sudo, as root
  }, 180_000);

  it('the binary secret round-trips through fettle secret get/set and the age CLI', () => {
    const got = spawnSync(process.execPath, [bin, 'secret', 'get', 'keytab', '--site', site], { env: { PATH: process.env['PATH'] ?? '', ...env } });
    expect(sha256(got.stdout)).toBe(sha256(KEYTAB));
    const other = randomBytes(64);
    expect(fettle(['secret', 'set', 'blob', '--raw'], { input: other }).code).toBe(0);
    expect(sha256(execFileSync('age', ['-d', '-i', controllerKey, path.join(site, 'secrets/blob.age')]))).toBe(sha256(other));
    fettle(['secret', 'list']);
    fettle(['secret', 'list', '--json']);
  });

  it('prints no secret in any shape, on any command, nor in any file it writes outside the targets', () => {
    const outputs: Run[] = [
      fettle(['plan']),
      fettle(['plan', '--json']),
      fettle(['plan', '--debug']),
      fettle(['apply', '-v']),
      fettle(['apply', '--json']),
      fettle(['apply', '--debug']),
      fettle(['apply', '-i'], { input: 'n\n'.repeat(40) }),
      fettle(['items', 'web1']),
      fettle(['items', 'web1', '--json']),
      fettle(['items', 'web1', '--preview', 'template:/etc/app/app.conf']),
      fettle(['items', 'web1', '--preview', 'template:/etc/app/inline.conf', '--json']),
      fettle(['hosts', '--vars']),
      fettle(['hosts', '--vars', '--json']),
      fettle(['tasks', 'web1']),
      fettle(['tasks', 'web1', '--json']),
      fettle(['validate']),
      fettle(['validate', '--json']),
      fettle(['discover']),
      fettle(['ping', '--json']),
      fettle(['updates']),
      fettle(['sync-repos', '--json']),
      fettle(['report', '--json']),
      fettle(['report', '--format', 'html']),
      fettle(['report', '--format', 'markdown', '--output', path.join(outside, 'report.md')]),
      fettle(['secret', 'list']),
    ];
    // Drift: the host's key file is changed behind fettle's back; verify shows no content of either side.
    for (const root of Object.values(roots())) writeFileSync(path.join(root, 'etc/app/key.pem'), `drifted\n${PEM}`);
    const verify = fettle(['verify']);
    expect(verify.code).toBe(1);
    expect(text(verify)).toMatch(/file:\/etc\/app\/key\.pem {2}(would change|drift)\n\s+sha256 .*\n\s+content: <secret content changed>/);
    fettle(['verify', '--json']);
    fettle(['verify', '--debug']);
    // A mistyped attribute that quotes its value: bad input before any host is touched.
    for (const name of ['token', 'pem']) {
      for (const flags of [[], ['--json'], ['--debug']]) {
        const bad = fettle(['plan', ...flags], { extraEnv: { SCAN_MISTYPED: name } });
        expect(bad.code, text(bad)).toBe(3);
        expect(text(bad)).toContain('<secret:');
      }
      fettle(['items', 'web1'], { extraEnv: { SCAN_MISTYPED: name } });
      fettle(['validate', '--json'], { extraEnv: { SCAN_MISTYPED: name } });
    }
    // Rotation (with the age CLI, as an operator would): the host holds the old value; plan shows neither.
    writeFileSync(path.join(site, 'secrets/token.age'), execFileSync('age', ['-a', '-r', controllerRecipient], { input: ROTATED }));
    const rotated = fettle(['plan']);
    expect(text(rotated)).toMatch(/file:\/etc\/app\/token\s+would change/);
    fettle(['plan', '--json']);
    fettle(['plan', '-v', '--debug']);
    expect(outputs.length).toBeGreaterThan(0);
    // sync-repos did run apt-get update (against the private repository).
    expect(aptRepo.synced()).toBe(true);

    const printed = runs.flatMap((run) => [
      { where: `stdout of fettle ${run.args.join(' ')}`, data: run.stdout },
      { where: `stderr of fettle ${run.args.join(' ')}`, data: run.stderr },
    ]);
    // Files fettle wrote: HOME, TMPDIR, XDG folders (the controller key aside), the site's caches
    // and state (the encrypted secrets aside).
    const written = [
      ...filesUnder(outside, (file) => file === controllerKey),
      ...filesUnder(site, (file) => file.endsWith('.age')),
    ].map(({ file, data }) => ({ where: file, data }));
    expect(written.some(({ where }) => where.includes(`${path.sep}.fettle${path.sep}state.json`))).toBe(true);
    expect(written.some(({ where }) => where.includes(`node_modules${path.sep}.cache${path.sep}fettle`))).toBe(true);

    const all = [
      ...needles('token', Buffer.from(TOKEN)),
      ...needles('rotated token', Buffer.from(ROTATED)),
      ...needles('pem', Buffer.from(PEM)),
      ...needles('keytab', KEYTAB),
    ];
    const leaks: string[] = [];
    for (const { what, bytes } of all) {
      for (const { where, data } of [...printed, ...written]) if (data.includes(bytes)) leaks.push(`${what} in ${where}`);
    }
    expect(leaks).toEqual([]);
    // The scan looked at something: the runs printed names where the values would have been.
    expect(printed.map(({ data }) => data.toString('utf8')).join('\n')).toContain('<secret:pem>');
  }, 600_000);
});
