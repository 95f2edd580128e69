// Paths and scratch folders the CLI's tests share. Not part of the build (only the entries in
// tsup.config.ts are), and not a test file itself.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { main } from './main.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built CLI, as a user runs it. */
export const bin = path.resolve(here, '../dist/bin.js');
/** The README's example site. */
export const example = path.resolve(here, '../../../examples/site-basic');
/** Sites live inside this package so that node resolves @fettle/* from its node_modules. */
export const sitesRoot = path.resolve(here, '../.test-sites');
mkdirSync(sitesRoot, { recursive: true });

// The CLIs a test file spawns keep their compile cache in a scratch folder of that file, never in
// the runner's ~/.cache (tests that need their own cache or HOME pass an environment of their own).
const scratchCache = mkdtempSync(path.join(sitesRoot, 'xdg-cache-'));
process.env['XDG_CACHE_HOME'] = scratchCache;
afterAll(() => rmSync(scratchCache, { recursive: true, force: true }));

/** A list of folders removed after the calling test file's tests. */
export function removedAfterAll(): string[] {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return made;
}

/** Run the CLI in this process (its exit code, and what it wrote to stdout and stderr). */
export async function runInProcess(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = (chunk: string | Uint8Array) => ((stdout += String(chunk)), true);
  process.stderr.write = (chunk: string | Uint8Array) => ((stderr += String(chunk)), true);
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
