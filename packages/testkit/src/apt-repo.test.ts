import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAptTestRepo } from './apt-repo.js';

const dpkgStatus = (name: string): string => execFileSync('sh', ['-c', `dpkg-query -W -f '\${db:Status-Abbrev}' ${name} 2>/dev/null || echo absent`], { encoding: 'utf8' }).trim();

describe('createAptTestRepo', () => {
  it("the real apt updates from it and installs its packages into the machine's dpkg; remove purges them and the folder", () => {
    const repo = createAptTestRepo(2);
    const env = { ...process.env, ...repo.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
    const [first, second] = repo.packages;
    try {
      expect(repo.packages.map((pkg) => pkg.name)).toEqual([expect.stringMatching(/^fettle-t[0-9a-f]{8}-1$/), expect.stringMatching(/^fettle-t[0-9a-f]{8}-2$/)]);
      const update = execFileSync('apt-get', ['-q', 'update'], { env, encoding: 'utf8' });
      // Only the private repository was asked: no other source appears.
      expect(update.split('\n').filter((line) => /^(Get|Hit|Ign):/.test(line)).every((line) => line.includes(`file:${repo.dir}/repo`))).toBe(true);
      expect(repo.synced()).toBe(true);
      expect(execFileSync('apt-cache', ['policy', first?.name ?? ''], { env, encoding: 'utf8' })).toMatch(/Candidate: 1\.0-1/);
      execFileSync('apt-get', ['-q', '-y', 'install', first?.name ?? ''], { env, stdio: 'ignore' });
      expect(dpkgStatus(first?.name ?? '')).toBe('ii');
      expect(dpkgStatus(second?.name ?? '')).toBe('absent');
    } finally {
      repo.remove();
    }
    expect(dpkgStatus(first?.name ?? '')).toBe('absent');
    expect(existsSync(repo.dir)).toBe(false);
  }, 120_000);
});
