import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CreateSiteError, addCommand, createSite, detectPackageManager, packageManagerFromAgent, siteName } from './index.js';

const made: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'create-fettle-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('package manager', () => {
  it('reads npm, pnpm and yarn from npm_config_user_agent', () => {
    expect(packageManagerFromAgent('pnpm/10.34.9 npm/? node/v20.19.0 linux x64')).toBe('pnpm');
    expect(packageManagerFromAgent('yarn/1.22.22 npm/? node/v20.19.0 linux x64')).toBe('yarn');
    expect(packageManagerFromAgent('npm/10.8.2 node/v20.19.0 linux x64 workspaces/false')).toBe('npm');
    expect(packageManagerFromAgent('bun/1.1.0')).toBeUndefined();
    expect(packageManagerFromAgent(undefined)).toBeUndefined();
  });

  it("prefers the site's lockfile over who ran us", () => {
    const dir = tempDir();
    expect(detectPackageManager(dir, 'yarn/1.22.22')).toBe('yarn');
    expect(detectPackageManager(dir, '')).toBe('npm'); // '' = no agent: undefined would take the default, the env of whoever runs the tests
    writeFileSync(path.join(dir, 'pnpm-lock.yaml'), '');
    expect(detectPackageManager(dir, 'yarn/1.22.22')).toBe('pnpm');
    expect(addCommand('pnpm', ['@fettle/items-apt'])).toEqual(['pnpm', ['add', '@fettle/items-apt']]);
    expect(addCommand('npm', ['x'])).toEqual(['npm', ['install', '--save', 'x']]);
  });
});

describe('createSite', () => {
  it('writes a site package that keeps keys and caches out of git', () => {
    const dir = path.join(tempDir(), 'My Site');
    const lines: string[] = [];
    const site = createSite(dir, { install: false, packageManager: 'pnpm', log: (line) => lines.push(line) });
    expect(site.files).toEqual(['package.json', 'fettle.config.ts', 'inventory.conf', 'nodes/web1.json', 'roles/base.ts', '.gitignore', 'README.md']);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; type: string; private: boolean };
    expect(manifest).toMatchObject({ name: 'my-site', type: 'module', private: true });
    expect(readFileSync(path.join(dir, 'fettle.config.ts'), 'utf8')).toContain('defineSite({');
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/node_modules\/[\s\S]*\*\.key/);
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain('pnpm fettle plan');
    expect(lines.at(-1)).toContain('pnpm fettle validate');
  });

  it('refuses a folder that already holds files, and writes nothing', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => createSite(dir, { install: false, log: () => undefined })).toThrow(CreateSiteError);
    expect(() => createSite(dir, { install: false, log: () => undefined })).toThrow(/not empty \(notes\.txt\)/);
  });

  it('names the package after the folder', () => {
    expect(siteName('/tmp/.Infra Prod')).toBe('infra-prod');
    expect(siteName('/')).toBe('fettle-site');
  });
});
