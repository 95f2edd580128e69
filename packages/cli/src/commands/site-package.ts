import type { Command } from 'commander';
import type { Output } from '../output.js';
import type { LoadedSite } from '../site.js';
import { validateCommand } from './validate.js';

/** What the site-package commands need from the program that mounts them. */
export interface SitePackageContext {
  site(): Promise<LoadedSite>;
  output(): Output;
  setExit(code: number): void;
}

/** Command names, so the program knows they are built in (no plugin lookup needed). */
export const SITE_PACKAGE_COMMANDS = ['validate'] as const;

/** Mount `validate` (and the other site-package commands) on the program. */
export function registerSitePackageCommands(program: Command, context: SitePackageContext): void {
  program
    .command('validate')
    .summary('check the whole site without touching a host: every host prepares, every secret resolves')
    .description(
      'Prepare every host as a run would (roles run, items validate, templates compile, dependencies resolve with no cycle, secrets exist and the host may read them) without contacting any host. Exit 3 listing every problem, 0 when none.',
    )
    .action(async () => {
      context.setExit(await validateCommand(await context.site(), context.output()));
    });
}
