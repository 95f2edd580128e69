// fettle deploy to three hosts over a real sshd: each host's root is a testkit target folder, and the
// bundle runs there (on this machine, through SSH) as that host, writing into that root.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdForTests } from '@fettle/testkit';
import { bin, sitesRoot } from './test-sites.js';

mkdirSync(sitesRoot, { recursive: true });
const HOSTS = ['web1', 'web2', 'web3'];
const SECRET = `db-password-${Math.random().toString(36).slice(2)}-${Date.now()}`;

const sshd = sshdForTests({ hosts: HOSTS });
const dir = mkdtempSync(path.join(sitesRoot, 'deploy-'));
// The controller key lives outside the site, as it should.
const controllerDir = mkdtempSync(path.join(os.tmpdir(), 'fettle-controller-'));
const controllerKey = path.join(controllerDir, 'controller.key');

function fettle(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--site', dir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function everythingUnder(folder: string): string {
  let text = '';
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += readFileSync(path.join(entry.parentPath, entry.name), 'latin1');
  }
  return text;
}

beforeAll(async () => {
  await sshd.start();
  const kit = sshd.get();
  execFileSync('age-keygen', ['-o', controllerKey], { stdio: 'ignore' });
  chmodSync(controllerKey, 0o600);
  const controller = execFileSync('age-keygen', ['-y', controllerKey], { encoding: 'utf8' }).trim();
  mkdirSync(path.join(dir, 'keys/hosts'), { recursive: true });
  mkdirSync(path.join(dir, 'secrets'));
  const recipients = ['-r', controller];
  for (const host of HOSTS) {
    // Each node's own identity, where the node looks for it: ROOT/etc/fettle/node.age.
    const root = kit.hosts[host]?.root ?? '';
    mkdirSync(path.join(root, 'etc/fettle'), { recursive: true });
    const nodeKey = path.join(root, 'etc/fettle/node.age');
    execFileSync('age-keygen', ['-o', nodeKey], { stdio: 'ignore' });
    chmodSync(nodeKey, 0o600);
    const pub = execFileSync('age-keygen', ['-y', nodeKey], { encoding: 'utf8' }).trim();
    writeFileSync(path.join(dir, `keys/hosts/${host}.pub`), `${pub}\n`);
    recipients.push('-r', pub);
  }
  writeFileSync(path.join(dir, 'secrets/db.age'), execFileSync('age', ['-a', ...recipients], { input: SECRET }));
  writeFileSync(path.join(dir, 'secrets/db.readers.json'), JSON.stringify({ hosts: HOSTS }));
  const inventory = Object.fromEntries(HOSTS.map((host) => [host, kit.inventoryHost(host)]));
  writeFileSync(
    path.join(dir, 'fettle.config.ts'),
    `import { MemoryHostStore, defineSite } from '@fettle/core';
import files from '@fettle/items-files';
import ssh from '@fettle/transport-ssh';
import ageSecrets, { ageSecretStore } from '@fettle/secrets-age';

export default defineSite({
  name: 'deploy-test-site',
  plugins: [files, ssh, ageSecrets],
  hosts: new MemoryHostStore({ hosts: ${JSON.stringify(inventory)}, defaultRoles: ['app'] }),
  secrets: ageSecretStore({ dir: import.meta.dirname, controllerRecipient: ${JSON.stringify(controller)}, keySource: { file: ${JSON.stringify(controllerKey)} } }),
  roles: {
    app: (host, { secret }) => ({
      'directory:/etc/app': { mode: '0755' },
      'file:/etc/app/motd': { content: \`deployed to \${host.name}\\n\` },
      'file:/etc/app/db.conf': { content: secret('db') },
    }),
  },
});
`,
  );
}, 120_000);

afterAll(async () => {
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(controllerDir, { recursive: true, force: true });
});

interface DeployRun {
  summary: Record<string, number>;
  hosts: { host: string; status: string; error?: string }[];
  deploy: { version: string; uploaded: string[] };
}

describe('fettle deploy to 3 hosts over SSH', () => {
  it('converges them, each decrypting its secret with its own key; a second deploy uploads nothing and changes nothing', async () => {
    const kit = sshd.get();
    const built = fettle(['build', '--json']);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const { version, bundle } = JSON.parse(built.stdout) as { version: string; bundle: string };
    const controllerSecret = readFileSync(controllerKey, 'utf8').match(/AGE-SECRET-KEY-1\S+/)?.[0] ?? 'missing';
    expect(readFileSync(bundle, 'latin1')).not.toContain(controllerSecret);
    // From here on the controller key is gone: whatever decrypts a secret now must be the node's own key.
    renameSync(controllerKey, `${controllerKey}.away`);

    const first = fettle(['deploy', '--json']);
    expect(first.stderr).toBe('');
    const run = JSON.parse(first.stdout) as DeployRun;
    expect(run.hosts.map((host) => [host.host, host.status, host.error])).toEqual(HOSTS.map((host) => [host, 'changed', undefined]));
    expect(first.code).toBe(0);
    expect(run.summary).toEqual({ changed: 9, wouldChange: 0, ifTriggered: 0, drift: 0, ok: 0, failed: 0, skipped: 0, unreachable: 0, hosts: 3 });
    expect(run.deploy).toEqual({ name: 'deploy-test-site', version, uploaded: HOSTS });
    for (const host of HOSTS) {
      const root = kit.hosts[host]?.root ?? '';
      expect(readFileSync(path.join(root, 'etc/app/motd'), 'utf8')).toBe(`deployed to ${host}\n`);
      expect(readFileSync(path.join(root, 'etc/app/db.conf'), 'utf8')).toBe(SECRET);
      expect(statSync(path.join(root, 'etc/app/db.conf')).mode & 0o777).toBe(0o600);
      expect(existsSync(path.join(root, `var/lib/fettle/deploy/deploy-test-site-${version}.mjs`))).toBe(true);
      // The controller's private key is nowhere on the host.
      expect(everythingUnder(root)).not.toContain(controllerSecret);
    }
    expect(first.stdout).not.toContain(SECRET);

    const mark = await kit.mark();
    const second = fettle(['deploy', '--json']);
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout) as DeployRun;
    expect(again.summary).toEqual({ changed: 0, wouldChange: 0, ifTriggered: 0, drift: 0, ok: 9, failed: 0, skipped: 0, unreachable: 0, hosts: 3 });
    expect(again.deploy.uploaded).toEqual([]);
    // Per host: one connection, one command (which found the bundle and ran it), no SFTP session.
    expect(await kit.countsSince(mark)).toMatchObject({ connections: 3, execs: 3, sftp: 0 });

    const text = fettle(['deploy', 'web2']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/summary: 0 changed, 3 ok, 0 failed, 0 skipped, 0 unreachable \(1 host/);
    expect(text.stdout).toMatch(/uploaded to 0 of 1 host/);
    renameSync(`${controllerKey}.away`, controllerKey);
  });

  it('a new build is uploaded once and replaces the old one on the host; a host without its key fails alone', () => {
    const kit = sshd.get();
    const built = fettle(['build', '--json']);
    expect(built.code).toBe(0);
    const { version } = JSON.parse(built.stdout) as { version: string };
    const web3Key = path.join(kit.hosts['web3']?.root ?? '', 'etc/fettle/node.age');
    renameSync(web3Key, `${web3Key}.away`);
    const result = fettle(['deploy', '--json']);
    renameSync(`${web3Key}.away`, web3Key);
    const run = JSON.parse(result.stdout) as DeployRun;
    expect(run.deploy.uploaded).toEqual(HOSTS);
    expect(run.hosts.map((host) => host.status)).toEqual(['ok', 'ok', 'failed']);
    expect(run.hosts[2]?.error).toMatch(/node\.age/);
    expect(result.code).toBe(1);
    const deployed = readdirSync(path.join(kit.hosts['web1']?.root ?? '', 'var/lib/fettle/deploy')).sort();
    expect(deployed).toEqual([`deploy-test-site-${version}.mjs`, `deploy-test-site-${version}.site`]);
  });
});
