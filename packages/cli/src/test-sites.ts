// Paths and scratch folders the CLI's tests share. Not part of the build (only the entries in
// tsup.config.ts are), and not a test file itself.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI, as a user runs it. */
export const bin = path.resolve(here, '../dist/bin.js');
/** The README's example site. */
export const example = path.resolve(here, '../../../examples/site-basic');
/** Sites live inside this package so that node resolves @fettle/* from its node_modules. */
export const sitesRoot = path.resolve(here, '../.test-sites');
mkdirSync(sitesRoot, { recursive: true });

/** A list of folders removed after the calling test file's tests. */
export function removedAfterAll(): string[] {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return made;
}
