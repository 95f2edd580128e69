// Every workspace package publishes to a real registry, with ranges that work outside it.
import { startRegistry, type RegistryKit } from '@fettle/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packument, publishWorkspace } from './publish.js';
import { publishablePackages } from './workspace.js';

let registry: RegistryKit;

beforeAll(async () => {
  registry = await startRegistry({ uplink: false });
  await publishWorkspace(registry);
});

afterAll(async () => {
  await registry?.stop();
});

describe('publishing the workspace', () => {
  it.each(publishablePackages().map((p) => [p.manifest.name, p.manifest.version] as const))(
    '%s@%s is on the registry with no workspace: range left',
    async (name, version) => {
      const doc = await packument(registry, name);
      expect(doc?.['dist-tags'].latest).toBe(version);
      const published = doc?.versions[version];
      expect(published).toBeDefined();
      const ranges = { ...published?.dependencies, ...published?.peerDependencies };
      expect(Object.entries(ranges).filter(([, range]) => range.startsWith('workspace:'))).toEqual([]);
      for (const [dep, range] of Object.entries(ranges)) {
        if (dep.startsWith('@fettle/')) expect(range, dep).toMatch(/^\^\d+\.\d+\.\d+$/);
      }
    },
  );
});
