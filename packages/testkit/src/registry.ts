// A throwaway npm registry (Verdaccio) on 127.0.0.1 for tests that publish and install
// packages the way users get them. Packages of the fettle family are served only from
// its own storage; anything else (zod, ssh2, …) it fetches from its uplink (the public registry
// by default) or, with `uplink: false`, from what `mirrorInstalled` published.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { sleep } from './exec.js';
import { installedClosure, publishClosure, type InstalledNeed } from './registry-mirror.js';
import { freePort } from './sshd.js';

export interface StartRegistryOptions {
  /** The `verdaccio` executable; defaults to $FETTLE_VERDACCIO, then the nearest `tools/verdaccio` or `node_modules/.bin`. */
  readonly verdaccio?: string;
  /** Where anything not published locally comes from; `false` for no uplink. Default: the public npm registry. */
  readonly uplink?: string | false;
  /** Extra package patterns served only from local storage (never proxied). */
  readonly localOnly?: readonly string[];
}

export interface RegistryKit extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** An `.npmrc` with the registry and a token that may publish; point `npm_config_userconfig` at it. */
  readonly npmrc: string;
  /** Environment for npm/pnpm/yarn children: registry, token and a quiet, offline-friendly setup. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /**
   * Publishes third-party packages as this machine installed them (each `names` resolved from
   * its `from` folder, with their dependencies), so a registry started with `uplink: false`
   * serves a whole `npm install` without the network. Resolves to the `name@version`s published.
   */
  mirrorInstalled(needs: readonly InstalledNeed[]): Promise<string[]>;
  /** The last lines of Verdaccio's log, for failure messages. */
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

/** Names that must never come from the public registry, whoever owns them there. */
const FETTLE_FAMILY = ['@fettle/*', '@fettle-test/*', 'create-fettle', 'fettle-plugin-*', '@*/fettle-plugin-*'];

export function findVerdaccio(from = process.cwd()): string {
  const fromEnv = process.env.FETTLE_VERDACCIO;
  if (fromEnv) return fromEnv;
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    for (const candidate of [join(dir, 'tools/verdaccio/node_modules/.bin/verdaccio'), join(dir, 'node_modules/.bin/verdaccio')]) {
      if (existsSync(candidate)) return candidate;
    }
    if (dirname(dir) === dir) break;
  }
  throw new Error('verdaccio not found: install it (npm i -D verdaccio) or set FETTLE_VERDACCIO to its executable');
}

function configYaml(root: string, port: number, options: StartRegistryOptions): string {
  const uplink = options.uplink ?? 'https://registry.npmjs.org/';
  const local = [...FETTLE_FAMILY, ...(options.localOnly ?? [])];
  const rule = (pattern: string, proxy: boolean): string =>
    `  '${pattern}':\n    access: $all\n    publish: $authenticated\n    unpublish: $authenticated\n${proxy ? '    proxy: upstream\n' : ''}`;
  return [
    `storage: ${join(root, 'storage')}`,
    'auth:',
    '  htpasswd:',
    `    file: ${join(root, 'htpasswd')}`,
    '    max_users: 100',
    uplink === false ? '' : `uplinks:\n  upstream:\n    url: ${uplink}\n    timeout: 60s\n    max_fails: 5`,
    'packages:',
    ...local.map((pattern) => rule(pattern, false)),
    rule('**', uplink !== false),
    `listen: 127.0.0.1:${port}`,
    'server:',
    '  keepAliveTimeout: 60',
    'log:',
    '  type: file',
    `  path: ${join(root, 'verdaccio.log')}`,
    '  level: warn',
    'publish:',
    '  allow_offline: true',
    '',
  ].join('\n');
}

async function waitForPing(url: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}\n${await tail(logPath)}`);
    try {
      const res = await fetch(`${url}-/ping`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`verdaccio did not answer on ${url} within 30 s\n${await tail(logPath)}`);
}

async function tail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

/** Registers a throwaway user the way `npm adduser` does and returns its token. */
async function addUser(url: string): Promise<string> {
  const name = `fettle-test-${process.pid}`;
  const res = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: 'fettle-test-password', type: 'user', roles: [] }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token) throw new Error(`verdaccio refused the test user: HTTP ${res.status}`);
  return body.token;
}

/**
 * Starts Verdaccio on a free loopback port with a fresh storage folder and config, and a
 * user that may publish. `await using registry = await startRegistry()` stops it and
 * removes everything it stored.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RegistryKit> {
  const verdaccio = options.verdaccio ?? findVerdaccio();
  const root = await mkdtemp(join(tmpdir(), 'fettle-registry-'));
  const logPath = join(root, 'verdaccio.log');
  let child: ChildProcess | undefined;
  let url = '';
  try {
    // A port picked with listen(0) can be taken before Verdaccio binds it: retry a few times.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      url = `http://127.0.0.1:${port}/`;
      const configPath = join(root, 'config.yaml');
      await writeFile(configPath, configYaml(root, port, options));
      child = spawn(verdaccio, ['--config', configPath], { stdio: 'ignore' });
      try {
        await waitForPing(url, child, logPath);
        break;
      } catch (err) {
        child.kill('SIGKILL');
        if (attempt >= 2) throw err;
      }
    }
    const token = await addUser(url);
    const npmrc = join(root, 'npmrc');
    const authKey = url.replace(/^http:/, '');
    await writeFile(npmrc, `registry=${url}\n${authKey}:_authToken=${token}\nfund=false\naudit=false\nupdate-notifier=false\n`, { mode: 0o600 });
    const running = child;
    const stop = async (): Promise<void> => {
      if (running.exitCode === null) {
        const exited = new Promise((done) => running.once('exit', done));
        running.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (running.exitCode === null) running.kill('SIGKILL');
      }
      await rm(root, { recursive: true, force: true });
    };
    return {
      url,
      npmrc,
      env: (extra = {}) => ({
        ...process.env,
        npm_config_userconfig: npmrc,
        npm_config_registry: url,
        NPM_CONFIG_USERCONFIG: npmrc,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
        ...extra,
      }),
      mirrorInstalled: (needs) => publishClosure(url, token, installedClosure(needs)),
      logTail: () => tail(logPath),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
