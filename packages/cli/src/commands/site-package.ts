import path from 'node:path';
import type { Command } from 'commander';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { BuiltInSite, LoadedSite } from '../site.js';
import type { PullOptions } from './pull.js';
import { DEFAULT_OUT, PULL_STATE_DIR, TEXTFILE_PATH } from './paths.js';

// Only the command table is loaded with the program: each command's code (and @fettle/core
// with it) is imported when that command runs, so `fettle --help` stays cheap.

/** What the site-package commands need from the program that mounts them. */
export interface SitePackageContext {
  site(): Promise<LoadedSite>;
  /** The run's output; loads the output module (and the redactor) on first use. */
  output(): Promise<Output>;
  /** The site compiled into this program, when it runs from a site bundle. */
  readonly builtIn?: BuiltInSite | undefined;
  setExit(code: number): void;
}

/** Command names, so the program knows they are built in (no plugin lookup needed). */
export const SITE_PACKAGE_COMMANDS = ['validate', 'build', 'version', 'deploy', 'publish', 'pull', 'report'] as const;

/** `fettle version`: the version of the running site (a bundle's own, or the source site's package.json and last build). */
async function versionCommand(context: SitePackageContext): Promise<number> {
  const out = await context.output();
  if (context.builtIn) {
    const { name, version } = context.builtIn;
    if (out.json) out.document({ name, version, from: 'bundle' });
    else out.line(`${name} ${version}`);
    return EXIT.ok;
  }
  const site = await context.site();
  const [{ siteName, readBuildRecord }, { readSitePackageJson }] = await Promise.all([import('./build.js'), import('../site-package/version.js')]);
  const name = siteName(site);
  const version = readSitePackageJson(site.dir).version;
  const lastBuild = readBuildRecord(path.join(site.dir, DEFAULT_OUT))?.version;
  if (out.json) out.document({ name, version: version ?? null, from: 'source', lastBuild: lastBuild ?? null });
  else out.line(`${name} ${version ?? '(no version)'} (source${lastBuild ? `; last build ${lastBuild}` : '; not built'})`);
  return EXIT.ok;
}

/** Mount `validate`, `build` and `version` on the program. */
export function registerSitePackageCommands(program: Command, context: SitePackageContext): void {
  program
    .command('validate')
    .summary('check the whole site without touching a host: every host prepares, every secret resolves')
    .description(
      'Prepare every host as a run would (roles run, items validate, templates compile, dependencies resolve with no cycle, secrets exist and the host may read them) without contacting any host. Exit 3 listing every problem, 0 when none.',
    )
    .action(async () => {
      const { validateCommand } = await import('./validate.js');
      context.setExit(await validateCommand(await context.site(), await context.output()));
    });
  program
    .command('build')
    .summary('validate, mint a version, and build the site package (npm tarball) and a single-file bundle')
    .description(
      "Validate the site, mint a version (major.minor.epoch from the site's package.json, or the config's own `export function mintVersion()`), then write into the output folder: the site as an npm tarball whose dependencies are its plugins, and a single-file bundle (site, plugins, core and CLI) that runs with nothing but node: `node BUNDLE apply --node NAME`. build.json records the last build.",
    )
    .option('-o, --out <dir>', 'output folder, relative to the site', DEFAULT_OUT)
    .action(async (options: { out?: string }) => {
      const { buildCommand } = await import('./build.js');
      context.setExit(await buildCommand(await context.site(), await context.output(), options));
    });
  program
    .command('deploy')
    .summary("upload the last build's bundle to each host (once per version) and apply it there, as that host")
    .description(
      "progfiguration's deploy apply: for each selected host, one command runs the bundle of the last `fettle build` if the host has that version, or says it needs it; then the bundle is uploaded (older versions removed) and run. It applies the site on the host, for that host only, with the local transport at the host's root; secrets are decrypted there with the node's own age key, never the controller's. Results come back into the usual progress, summary and --json.",
    )
    .argument('[selector]', 'hosts to deploy to (see Selectors)')
    .option('-j, --concurrency <n>', 'hosts worked on at once', (value) => Number.parseInt(value, 10))
    .option('-o, --out <dir>', 'the build folder, relative to the site', DEFAULT_OUT)
    .option('--node-key <file>', "the node's age identity on each host (default ROOT/etc/fettle/node.age)")
    .option('--dry-run', 'run plan on the hosts instead of apply: change nothing')
    .option('-v, --verbose', 'also list items that are already right')
    .action(async (selector: string | undefined, options: { concurrency?: number; out?: string; nodeKey?: string; dryRun?: boolean; verbose?: boolean }) => {
      const { deployCommand } = await import('./deploy.js');
      context.setExit(await deployCommand(await context.site(), await context.output(), { selector, mode: options.dryRun ? 'plan' : 'apply', ...options }));
    });
  program
    .command('publish')
    .summary("publish the last build's package to an npm registry (your .npmrc gives the registry and token)")
    .option('-o, --out <dir>', 'the build folder, relative to the site', DEFAULT_OUT)
    .option('--tag <dist-tag>', 'the dist-tag to publish under', 'latest')
    .option('--registry <url>', 'the registry (default: from npm config)')
    .option('--access <public|restricted>', 'npm access for a scoped package')
    .action(async (options: { out?: string; tag?: string; registry?: string; access?: string }) => {
      const { publishCommand } = await import('./publish.js');
      context.setExit(await publishCommand(await context.site(), await context.output(), options));
    });
  program
    .command('pull')
    .summary('on a node: fetch the published site, verify it, and apply it to this node')
    .description(
      `Resolve the site package on the registry (a dist-tag, a version or a range; default latest; registry and token from npm config), and, unless that version already applied cleanly (--force), download it, check its sha512 integrity, unpack it into ROOT/${PULL_STATE_DIR}/versions/VERSION (the last --keep kept), take the node's lock, apply it as this node (--node, else the host name matched against the inventory), and write ROOT/${PULL_STATE_DIR}/last-run.json and a Prometheus textfile (ROOT/${TEXTFILE_PATH}), both atomically.`,
    )
    .argument('[spec]', 'dist-tag, version or range', 'latest')
    .option('--package <name>', "the site package (default: this bundle's or the site's name)")
    .option('--registry <url>', 'the registry (default: from npm config)')
    .option('--node <name>', 'this node in the inventory (default: the host name)')
    .option('--root <dir>', 'the folder that is / for the items and the state (default /)')
    .option('--node-key <file>', "the node's age identity (default ROOT/etc/fettle/node.age)")
    .option('--state-dir <dir>', `installed versions, last report, lock (default ROOT/${PULL_STATE_DIR})`)
    .option('--textfile <file>', `the Prometheus textfile (default ROOT/${TEXTFILE_PATH})`)
    .option('--force', 'apply even when this version already applied cleanly')
    .option('--lock-wait <seconds>', 'wait this long for a run that holds the lock, then refuse (default 0: refuse at once)', (value) => Number.parseFloat(value))
    .option('--keep <n>', 'installed versions kept for rollback', (value) => Number.parseInt(value, 10), 3)
    .option('--install-timer', 'instead of pulling now, install a systemd timer (or cron entry) that runs this pull')
    .option('--remove-timer', 'remove that timer')
    .option('--timer <kind>', 'systemd, cron, or auto (systemd when it runs here)', 'auto')
    .option('--on-calendar <spec>', 'systemd OnCalendar of the timer', '*:0/15')
    .option('--randomized-delay <seconds>', 'random delay before each timed pull, so a fleet spreads out', (value) => Number.parseInt(value, 10), 600)
    .action(async (spec: string, options: Omit<PullOptions, 'spec'> & { installTimer?: boolean; removeTimer?: boolean; timer: 'systemd' | 'cron' | 'auto'; onCalendar?: string; randomizedDelay?: number }) => {
      if (options.installTimer || options.removeTimer) {
        const siteDir = context.builtIn ? undefined : (await context.site()).dir;
        const timer = { install: Boolean(options.installTimer), kind: options.timer, onCalendar: options.onCalendar, randomizedDelay: options.randomizedDelay, siteDir };
        const { pullTimerCommand } = await import('./pull-timer.js');
        context.setExit(await pullTimerCommand(await context.output(), { ...options, spec }, timer));
        return;
      }
      const [{ pullCommand }, { siteName }] = await Promise.all([import('./pull.js'), import('./build.js')]);
      const name = options.package ?? context.builtIn?.name ?? siteName(await context.site());
      context.setExit(await pullCommand(name, await context.output(), { ...options, spec }));
    });
  program
    .command('report')
    .summary("each node's last pull: the version it runs and whether its last run succeeded (one command per host)")
    .argument('[selector]', 'hosts to ask (see Selectors)')
    .option('--state-dir <dir>', `the pull state folder on the hosts (default ROOT/${PULL_STATE_DIR})`)
    .option('-j, --concurrency <n>', 'hosts asked at once', (value) => Number.parseInt(value, 10))
    .action(async (selector: string | undefined, options: { stateDir?: string; concurrency?: number }) => {
      const { reportCommand } = await import('./report.js');
      context.setExit(await reportCommand(await context.site(), await context.output(), { selector, ...options }));
    });
  program
    .command('version')
    .summary('print the version of the running site')
    .action(async () => {
      context.setExit(await versionCommand(context));
    });
}
