import { describe, expect, it } from 'vitest';
import { defineFact } from './protocols/fact.js';
import { sh } from './protocols/shell.js';
import { definePlugin } from './protocols/plugin.js';
import { Registry } from './registry.js';
import { isFettleError } from './errors.js';

const probe = (name: string) => defineFact<string, string>({ name, command: () => sh`true`, parse: (_out, queries) => queries.map(() => '') });

describe('Registry facts', () => {
  it('refuses two plugins defining one fact name, naming both packages (an input error)', () => {
    const a = definePlugin({ name: 'fettle-plugin-a', facts: [probe('net.probe')] });
    const b = definePlugin({ name: '@acme/fettle-plugin-b', facts: [probe('net.probe')] });
    let caught: unknown;
    try {
      new Registry([a, b]);
    } catch (error) {
      caught = error;
    }
    expect(isFettleError(caught) && caught.isInputError).toBe(true);
    expect(String(caught)).toContain("fact 'net.probe' is provided by two plugins: 'fettle-plugin-a' and '@acme/fettle-plugin-b'");
  });

  it('accepts one fact definition listed by two plugins, and says who provides a fact', () => {
    const shared = probe('files.stat');
    const registry = new Registry([definePlugin({ name: 'files', facts: [shared] }), definePlugin({ name: 'templates', facts: [shared] })]);
    expect(registry.factProvider('files.stat')).toBe('files');
    expect(registry.factProvider('nope')).toBeUndefined();
  });
});
