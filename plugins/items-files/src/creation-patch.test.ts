import { createTwoFilesPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { creationPatch } from './creation-patch.js';

/** What diffDetail printed for a new file before the fast path: the library's patch, trimmed the same way. */
function libraryPatch(name: string, text: string): string {
  const patch = createTwoFilesPatch(name, name, '', text, '', '', { context: 3 });
  return patch.split('\n').filter((line) => !line.startsWith('Index:') && !line.startsWith('====')).join('\n').trimEnd();
}

describe('creationPatch', () => {
  const samples = [
    'peerbench workload file 1 of 100\nhost: node01\nindex: 1\n',
    'one line, no newline',
    '',
    '\n',
    '\n\n\n',
    'trailing spaces   \n',
    'last line with spaces   ',
    ' \n',
    'a\n\nb\n\n',
    '+plus\n-minus\n@@ -0,0 +1 @@\n',
    'Index: not a header\n====\n',
    '\\ No newline at end of file\n',
    'tab\tand unicode ✓ ünï\n',
    'x'.repeat(5000),
  ];
  it.each(samples)('prints what the diff package prints for %j', (text) => {
    expect(creationPatch('/etc/app.conf', text)).toBe(libraryPatch('/etc/app.conf', text));
  });

  it('prints what the diff package prints for random text of lines, blanks and spaces', () => {
    const pieces = ['a', 'b c', ' ', '', '\t', 'ü'];
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const text = Array.from({ length: next(8) }, () => pieces[next(pieces.length)]).join(next(2) === 0 ? '\n' : ' ') + (next(2) === 0 ? '\n' : '');
      expect(creationPatch('/f', text)).toBe(libraryPatch('/f', text));
    }
  });

  it('leaves text with a carriage return to the library', () => {
    expect(creationPatch('/f', 'a\r\nb\r\n')).toBeUndefined();
  });
});
