import { describe, expect, it } from 'vitest';
import { entryText, entryTokens, parseIni } from './ini.js';

describe('parseIni', () => {
  it('reads sections, both delimiters, comments and continuation lines with their line numbers', () => {
    const doc = parseIni(
      [
        '# leading comment',
        '[groups]',
        'web = node1 node2 # trailing note',
        '    node3',
        '',
        '\tnode4',
        '; another comment',
        'db: node5',
        '[general]',
        'controller_age_path = /keys/a#b.age',
      ].join('\r\n'),
      'inv.conf',
    );
    expect(doc.sections.map((s) => [s.name, s.line])).toEqual([
      ['groups', 2],
      ['general', 9],
    ]);
    const [web, db] = doc.sections[0]?.entries ?? [];
    expect(web?.line).toBe(3);
    expect(entryTokens(web!)).toEqual([
      { text: 'node1', line: 3 },
      { text: 'node2', line: 3 },
      { text: 'node3', line: 4 },
      { text: 'node4', line: 6 },
    ]);
    expect(entryText(db!)).toBe('node5');
    // `#` without whitespace before it is part of the value, as in configparser.
    expect(entryText(doc.sections[1]!.entries[0]!)).toBe('/keys/a#b.age');
  });

  it('keeps the value empty when only a continuation follows', () => {
    const doc = parseIni('[function_role_map]\nfunc1 =\n  settz\n  other\n', 'x');
    expect(entryTokens(doc.sections[0]!.entries[0]!).map((t) => t.text)).toEqual(['settz', 'other']);
  });
});
