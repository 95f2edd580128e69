#!/usr/bin/env node
// `npm create fettle [dir]`, `pnpm create fettle [dir]`, `yarn create fettle [dir]`.
import { parseArgs } from 'node:util';
import { CreateSiteError, createSite } from './scaffold.js';

const USAGE = `Usage: create-fettle [dir] [--no-install]

Start a fettle site package in dir (default: the current folder, which must be empty):
fettle.config.ts, inventory.conf, one role, a .gitignore and a README, with its
dependencies added by the package manager that ran this (npm, pnpm or yarn).`;

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'no-install': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
  } else {
    createSite(positionals[0] ?? '.', { install: !values['no-install'] });
  }
} catch (error) {
  process.stderr.write(`create-fettle: ${error instanceof Error ? error.message : String(error)}\n`);
  if (!(error instanceof CreateSiteError)) process.stderr.write(`${USAGE}\n`);
  process.exitCode = 3;
}
