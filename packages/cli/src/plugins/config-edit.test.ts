import { describe, expect, it } from 'vitest';
import { addPluginToConfig, bindingName } from './config-edit.js';
import { candidateNames, checkPluginManifest } from './resolve.js';

const HAND_FORMATTED = `// My site — formatted by hand.
import path from 'node:path';
import { defineSite } from '@fettle/core';

import files from '@fettle/items-files'; // the file items

/* hosts come later */
export default defineSite({
  plugins: [
    files, // files first

    // more to come
  ],

  // roles below
  hosts: await inventoryConf(path.join(import.meta.dirname, 'inventory.conf')),
  roles: { base },
});
`;

/** Lines of b that are not in a, in order (a line diff good enough for splices). */
function addedLines(a: string, b: string): string[] {
  const before = a.split('\n');
  const after = b.split('\n');
  const out: string[] = [];
  let i = 0;
  for (const line of after) {
    if (before[i] === line) i++;
    else out.push(line);
  }
  expect(i).toBe(before.length);
  return out;
}

describe('addPluginToConfig', () => {
  it('adds one import line and one entry line, leaving comments and blank lines as written', () => {
    const edit = addPluginToConfig(HAND_FORMATTED, '@fettle/items-apt', 'fettle.config.ts');
    expect(edit).toMatchObject({ changed: true, local: 'apt' });
    expect(addedLines(HAND_FORMATTED, edit.source)).toEqual(["import apt from '@fettle/items-apt';", '    apt,']);
    expect(edit.source).toContain("import files from '@fettle/items-files'; // the file items\nimport apt from '@fettle/items-apt';\n");
    expect(edit.source).toContain('    files, // files first\n    apt,\n\n    // more to come\n');
  });

  it('changes nothing the second time', () => {
    const once = addPluginToConfig(HAND_FORMATTED, 'fettle-plugin-sysctl', 'fettle.config.ts');
    const twice = addPluginToConfig(once.source, 'fettle-plugin-sysctl', 'fettle.config.ts');
    expect(twice).toEqual({ source: once.source, changed: false, local: 'sysctl' });
  });

  it('follows one-line lists, double quotes and missing semicolons', () => {
    const source = 'import { defineSite } from "@fettle/core"\nimport files from "@fettle/items-files"\nexport default defineSite({ plugins: [files], hosts, roles: {} })\n';
    const edit = addPluginToConfig(source, '@fettle/transport-local', 'fettle.config.ts');
    expect(edit.source).toBe(
      'import { defineSite } from "@fettle/core"\nimport files from "@fettle/items-files"\nimport local from "@fettle/transport-local"\nexport default defineSite({ plugins: [files, local], hosts, roles: {} })\n',
    );
  });

  it('adds a comma to a multi-line list that has none, and fills an empty list', () => {
    const noComma = "import x from 'x';\nexport default defineSite({\n  plugins: [\n    x\n  ],\n});\n";
    expect(addPluginToConfig(noComma, '@fettle/items-apt', 'f').source).toContain('  plugins: [\n    x,\n    apt\n  ],');
    const empty = "import { defineSite } from '@fettle/core';\nexport default defineSite({ plugins: [], roles: {} });\n";
    expect(addPluginToConfig(empty, '@fettle/items-apt', 'f').source).toContain('plugins: [apt]');
  });

  it('lists an already imported package under its own name, and avoids taken names', () => {
    const imported = "import myApt from '@fettle/items-apt';\nexport default defineSite({ plugins: [] });\n";
    expect(addPluginToConfig(imported, '@fettle/items-apt', 'f')).toMatchObject({ local: 'myApt', source: "import myApt from '@fettle/items-apt';\nexport default defineSite({ plugins: [myApt] });\n" });
    const taken = "import apt from './apt.js';\nexport default defineSite({ plugins: [apt] });\n";
    expect(addPluginToConfig(taken, '@fettle/items-apt', 'f').local).toBe('apt2');
  });

  it('says where the plugins list should be when it cannot find it', () => {
    expect(() => addPluginToConfig('const site = {};\nexport default site;\n', 'x', 'fettle.config.ts')).toThrow(/cannot find the plugins list/);
  });

  it('names bindings after the package', () => {
    expect(bindingName('@fettle/items-apt')).toBe('apt');
    expect(bindingName('@acme/fettle-plugin-log-rotate')).toBe('logRotate');
    expect(bindingName('fettle-plugin-9p')).toBe('plugin9p');
  });
});

describe('plugin names and manifests', () => {
  it('resolves short names to first-party packages first, then fettle-plugin-NAME', () => {
    expect(candidateNames('apt').slice(0, 1)).toEqual(['@fettle/items-apt']);
    expect(candidateNames('apt')).toContain('@fettle/apt');
    expect(candidateNames('apt').slice(-2)).toEqual(['fettle-plugin-apt', 'apt']);
    expect(candidateNames('@acme/logs')).toEqual(['@acme/fettle-plugin-logs', '@acme/logs']);
    expect(candidateNames('@fettle/items-apt')).toEqual(['@fettle/items-apt']);
    expect(candidateNames('fettle-plugin-x')).toEqual(['fettle-plugin-x']);
  });

  it('refuses packages without the keyword, and TypeScript-only packages with a hint', () => {
    expect(() => checkPluginManifest({ name: 'left-pad', version: '1.3.0' })).toThrow(/not a fettle plugin: its package.json has no "fettle-plugin" keyword/);
    let hint = '';
    try {
      checkPluginManifest({ name: 'fettle-plugin-ts', version: '1.0.0', keywords: ['fettle-plugin'], exports: { '.': './src/index.ts' } });
    } catch (error) {
      hint = (error as { hint?: string }).hint ?? '';
      expect(String(error)).toMatch(/TypeScript source only \(\.\/src\/index\.ts\)/);
    }
    expect(hint).toMatch(/build it to JavaScript/);
    expect(() => checkPluginManifest({ name: 'ok', version: '1.0.0', keywords: ['fettle-plugin'], exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } } })).not.toThrow();
  });
});
