import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startRegistry } from './index.js';

const exec = promisify(execFile);

describe('startRegistry', () => {
  it('serves what npm publishes to it, and removes its storage when stopped', async () => {
    const registry = await startRegistry({ uplink: false });
    const dir = await mkdtemp(join(tmpdir(), 'fettle-registry-test-'));
    try {
      expect(registry.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: '@fettle-test/hello', version: '1.2.3' }));
      await writeFile(join(dir, 'index.js'), 'export default 1;\n');
      await exec('npm', ['publish'], { cwd: dir, env: registry.env() });
      const { stdout } = await exec('npm', ['view', '@fettle-test/hello', 'version'], { cwd: dir, env: registry.env() });
      expect(stdout.trim()).toBe('1.2.3');
      // No uplink: a name it does not hold is a 404, not a trip to the network.
      await expect(exec('npm', ['view', 'left-pad', 'version'], { cwd: dir, env: registry.env() })).rejects.toThrow(/E404|404/);
      expect(await readFile(registry.npmrc, 'utf8')).toContain(`registry=${registry.url}`);
    } finally {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
    await expect(readFile(registry.npmrc, 'utf8')).rejects.toThrow(/ENOENT/);
    await expect(fetch(`${registry.url}-/ping`)).rejects.toThrow();
  });
});
