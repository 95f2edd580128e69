import { inventoryError } from './problem.js';

/** One physical line of a value, kept with its line number so errors can point at it. */
export interface IniValueLine {
  readonly text: string;
  readonly line: number;
}

/** `key = value`, possibly continued over indented lines. */
export interface IniEntry {
  readonly key: string;
  readonly line: number;
  /** The text after the delimiter, then each continuation line (comments removed). */
  readonly lines: readonly IniValueLine[];
}

export interface IniSection {
  readonly name: string;
  readonly line: number;
  readonly entries: readonly IniEntry[];
}

export interface IniDocument {
  readonly file: string;
  readonly sections: readonly IniSection[];
}

/** A whitespace-separated word of a value, with the line it is on. */
export interface IniToken {
  readonly text: string;
  readonly line: number;
}

const EXPECTED_LINE = '`key = value`, a `[section]` header, a comment (`#` or `;`) or an indented continuation line';

/**
 * Removes a comment that follows a value. Like Python's configparser with
 * inline_comment_prefixes, `#` and `;` start a comment only after whitespace, so
 * `a#b` stays a value while `a # note` loses the note.
 */
function stripInlineComment(text: string): string {
  const match = /\s[#;]/.exec(text);
  return (match ? text.slice(0, match.index) : text).trim();
}

/**
 * A small INI reader in the dialect of Python's configparser (strict mode), which
 * is what progfiguration's inventory.conf is written for: `[section]` headers,
 * `key = value` or `key: value`, whole-line comments starting with `#` or `;`,
 * values continued on indented lines (blank lines between them allowed), and
 * duplicate sections or keys rejected. Unlike configparser it keeps the case of
 * keys and the line number of every value line.
 */
export function parseIni(text: string, file: string): IniDocument {
  const sections: { name: string; line: number; entries: { key: string; line: number; lines: IniValueLine[] }[] }[] = [];
  let section: (typeof sections)[number] | undefined;
  let entry: { key: string; line: number; lines: IniValueLine[] } | undefined;
  const lines = text.replace(/^\uFEFF/, '').split('\n');

  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const raw = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return;

    if (/^[ \t]/.test(raw)) {
      if (!entry) {
        throw inventoryError(file, line, `indented line '${trimmed}' continues no key`, {
          expected: 'a `key = value` line before it, or no indentation',
          hint: 'indentation marks a continuation of the previous value; remove it to start a new key',
        });
      }
      const continued = stripInlineComment(trimmed);
      if (continued !== '') entry.lines.push({ text: continued, line });
      return;
    }

    if (trimmed.startsWith('[')) {
      const header = stripInlineComment(trimmed);
      if (!header.endsWith(']')) {
        throw inventoryError(file, line, `section header '${header}' is not closed`, { expected: 'a header of the form `[name]`' });
      }
      const name = header.slice(1, -1).trim();
      if (name === '') throw inventoryError(file, line, 'empty section header `[]`', { expected: 'a section name inside the brackets' });
      const previous = sections.find((candidate) => candidate.name === name);
      if (previous) {
        throw inventoryError(file, line, `section [${name}] appears a second time (first at line ${previous.line})`, {
          expected: 'each section once',
          hint: `move these entries into the [${name}] section at line ${previous.line}`,
        });
      }
      section = { name, line, entries: [] };
      sections.push(section);
      entry = undefined;
      return;
    }

    const delimiter = /[=:]/.exec(raw);
    if (!delimiter) throw inventoryError(file, line, `cannot read '${trimmed}'`, { expected: EXPECTED_LINE });
    const key = raw.slice(0, delimiter.index).trim();
    if (key === '') {
      throw inventoryError(file, line, `no key before '${delimiter[0]}'`, { expected: `a name before '${delimiter[0]}', as in \`key = value\`` });
    }
    if (!section) {
      throw inventoryError(file, line, `key '${key}' is outside any section`, {
        expected: 'a section header such as `[groups]` before the first key',
      });
    }
    const duplicate = section.entries.find((candidate) => candidate.key === key);
    if (duplicate) {
      throw inventoryError(file, line, `key '${key}' appears a second time in [${section.name}] (first at line ${duplicate.line})`, {
        expected: 'each key once per section',
        hint: 'put all the values on the first line, or on indented lines below it',
      });
    }
    const value = stripInlineComment(raw.slice(delimiter.index + 1));
    entry = { key, line, lines: value === '' ? [] : [{ text: value, line }] };
    section.entries.push(entry);
  });

  return { file, sections };
}

/** The words of a value (split on spaces and newlines), each with its line. */
export function entryTokens(entry: IniEntry): IniToken[] {
  return entry.lines.flatMap(({ text, line }) =>
    text
      .split(/\s+/)
      .filter((word) => word !== '')
      .map((word) => ({ text: word, line })),
  );
}

/** The whole value as one string, continuation lines joined by single spaces. */
export function entryText(entry: IniEntry): string {
  return entry.lines.map(({ text }) => text).join(' ');
}
