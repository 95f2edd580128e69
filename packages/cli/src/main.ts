import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { argumentErrorDocument } from './argument-error.js';
import { EXIT, EXIT_HELP } from './exit-codes.js';
import type { Output } from './output.js';
import type { Redactor } from '@fettle/core/engine';
import type { BuiltInSite, LoadedSite } from './site.js';
import { SITE_PACKAGE_COMMANDS, registerSitePackageCommands } from './commands/site-package.js';

// This module is the command table and nothing more: it loads with every run, so it imports
// only commander and other light modules. A command's code, @fettle/core, zod, the site and
// its plugins load (dynamic import) when a command runs; `--help` and `--version` load none.

const BUILTIN = new Set(['plan', 'apply', 'verify', 'items', 'tasks', 'hosts', 'plugins', 'init', 'add', 'lock', 'help', ...SITE_PACKAGE_COMMANDS]);

interface RunOptions {
  concurrency?: number;
  verbose?: boolean;
  dryRun?: boolean;
  interactive?: boolean;
  node?: string;
  root?: string;
  nodeKey?: string;
  events?: boolean;
  forceLock?: boolean;
}

interface GlobalOptions {
  site: string;
  json?: boolean;
  debug?: boolean;
}

const SELECTOR_HELP = `
Selectors:
  node1            a host name (or, when no host has that name, a group name)
  group:web        every host in group web
  'web*'           a glob over host names
  'group:web,!web3'  comma lists; !TERM excludes
  (none)           every host

Plugin commands:
  A site's plugins may add commands (fettle secret, say); fettle plugins lists
  them, fettle COMMAND --help describes one.`;

/** `-j 4`: a positive integer, or a clear error before anything runs. */
function positiveInteger(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value.trim())) throw new InvalidArgumentError(`expected a positive integer such as 8, got '${value}'`);
  return Number(value);
}

/** The `fettle` program. Returns the exit code instead of exiting, for tests and embedding. */
export async function main(argv: readonly string[], builtIn?: BuiltInSite): Promise<number> {
  let exitCode: number = EXIT.ok;
  let debug = argv.includes('--debug');
  // Known before parsing, so that even an argument error comes out as JSON.
  const json = argv.includes('--json');
  const program = new Command('fettle')
    .description('fettle: converge hosts over SSH to what your site declares, and keep the fleet in good order')
    .option('-s, --site <dir>', 'site folder (holds fettle.config.ts)', process.env['FETTLE_SITE'] ?? '.')
    .option('--json', 'print one JSON document on stdout')
    .option('--debug', 'print stack traces for errors')
    .version('0.1.0', '-V, --version')
    .showSuggestionAfterError()
    .addHelpText('after', `${SELECTOR_HELP}\n${EXIT_HELP}`)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => (json ? undefined : write(text)) });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  // One redactor for the whole run: an error printed at the end is scrubbed of every secret the run saw.
  // Made with the output module, on the first command that writes (help and version never do).
  let outputs: { Output: typeof Output; redactor: Redactor } | undefined;
  const loadOutput = async (): Promise<(json?: boolean) => Output> => {
    if (!outputs) {
      const [{ Output }, { Redactor }] = await Promise.all([import('./run-path.js'), import('@fettle/core/engine')]);
      outputs = { Output, redactor: new Redactor() };
    }
    const { Output: OutputClass, redactor } = outputs;
    return (json = Boolean(globals().json)) => new OutputClass({ json, redactor });
  };
  const output = async (): Promise<Output> => (await loadOutput())();
  let sitePromise: Promise<LoadedSite> | undefined;
  const site = (): Promise<LoadedSite> => (sitePromise ??= builtIn ? builtIn.load() : import('./run-path.js').then(({ loadSite }) => loadSite(globals().site)));

  const runMode = (mode: 'plan' | 'apply' | 'verify', summary: string): Command => {
    const command = program
      .command(mode)
      .summary(summary)
      .description(summary)
      .argument('[selector]', 'hosts to work on (see Selectors)')
      .option('-j, --concurrency <n>', 'hosts worked on at once (a positive integer)', positiveInteger)
      .option('-v, --verbose', 'also list items that are already right (apply: and show content diffs)')
      .option('--node <name>', 'run on this machine as that host of the site: local transport, its secrets read with its own key')
      .option('--root <dir>', 'with --node: the folder that is / for the items (default /)')
      .option('--node-key <file>', "with --node: the node's age identity (default ROOT/etc/fettle/node.age)")
      .addOption(new Option('--events', 'print one JSON line per engine event (what deploy reads)').hideHelp());
    if (mode === 'apply') {
      command
        .option('--dry-run', 'show what would change, change nothing (same as plan)')
        .option('-i, --interactive', 'ask before fixing each item')
        .option('--force-lock', "apply even where someone else's apply holds the host lock (warns, names the holder)");
    }
    command.action(async (selector: string | undefined, options: RunOptions) => {
      // The command's code, the site (core, plugins) and the output load side by side.
      const [{ runCommand }, base, out] = await Promise.all([import('./run-path.js'), site(), output()]);
      const loaded = options.node === undefined ? base : await (await import('./node-mode.js')).siteAsNode(base, options);
      exitCode = await runCommand(loaded, out, {
        selector,
        mode: mode === 'apply' && options.dryRun ? 'plan' : mode,
        interactive: options.interactive,
        concurrency: options.concurrency,
        verbose: options.verbose,
        events: options.events,
        forceLock: options.forceLock,
      });
    });
    return command;
  };

  runMode('plan', 'show what apply would change, with diffs; change nothing');
  runMode('apply', 'converge hosts to the site: fix every item that differs');
  runMode('verify', 'check every item; exit 1 if any is not in its desired state');

  program
    .command('items')
    .summary('list the items a host gets, with attributes and dependencies')
    .argument('<host>', 'host name')
    .option('--preview <item>', 'print the content an item would write (e.g. template:/etc/motd), rendered without contacting the host')
    .action(async (host: string, options: { preview?: string }) => {
      const { itemsCommand } = await import('./commands/inspect.js');
      exitCode = await itemsCommand(await site(), await output(), host, options.preview);
    });
  program
    .command('tasks')
    .summary('list the setup tasks of a host: whether each would run, and why')
    .argument('<host>', 'host name')
    .action(async (host: string) => {
      const { tasksCommand } = await import('./commands/tasks.js');
      exitCode = await tasksCommand(await site(), await output(), host);
    });
  program
    .command('hosts')
    .summary('list hosts, their transport, groups and roles')
    .argument('[selector]', 'hosts to list (see Selectors)')
    .option('--vars', "show each host's vars and where each value came from")
    .option('--ssh', "show the SSH settings each host will be reached with, and each jump host's, as ssh -G spells them")
    .action(async (selector: string | undefined, options: { vars?: boolean; ssh?: boolean }) => {
      if (options.ssh) {
        const { sshSettingsCommand } = await import('./commands/ssh-settings.js');
        exitCode = await sshSettingsCommand(await site(), await output(), selector);
      } else {
        const { hostsCommand } = await import('./commands/inspect.js');
        exitCode = await hostsCommand(await site(), await output(), selector, Boolean(options.vars));
      }
    });
  program
    .command('plugins')
    .summary("list the site's plugins, their versions and what each provides")
    .action(async () => {
      const { pluginsCommand } = await import('./commands/plugins.js');
      exitCode = pluginsCommand(await site(), await output());
    });
  program
    .command('init')
    .summary('start a site package in a new or empty folder (same as npm create fettle)')
    .argument('[dir]', 'folder of the new site', '.')
    .option('--no-install', 'only write the files; add no dependencies')
    .action(async (dir: string, options: { install: boolean }) => {
      const { initCommand } = await import('./commands/init.js');
      exitCode = initCommand(dir, options, await output());
    });
  program
    .command('add')
    .summary('install plugins by name and add them to fettle.config.ts')
    .description(
      'Install each plugin with the site\'s package manager and add its import and its entry to fettle.config.ts, keeping the rest of the file as written. NAME is a short name (apt: @fettle/items-apt, then fettle-plugin-apt), @scope/NAME (@scope/fettle-plugin-NAME) or a full package name. A package without the fettle-plugin keyword or without a plugin as its default export is refused (exit 3). Adding a plugin the site has changes nothing.',
    )
    .argument('<name...>', 'plugins to add')
    .action(async (names: string[]) => {
      const { addPluginsCommand } = await import('./commands/add.js');
      exitCode = await addPluginsCommand(globals().site, names, await output());
    });
  const lock = program
    .command('lock')
    .summary('soft locks: keep other users\' applies away from items while you work on a host')
    .description(
      "Soft locks (BundleWrap's): `fettle apply` by another user skips the items a lock covers and reports them.\n" +
        'Every apply also holds a hard lock on each host while it runs; `lock show` names its holder.',
    );
  lock
    .command('add')
    .summary('add a soft lock on the selected hosts')
    .argument('[selector]', 'hosts to lock (see Selectors)')
    .option('--items <patterns...>', "item globs or tag:NAME the lock covers, e.g. 'file:/etc/*' tag:web (default: every item)", [])
    .option('--expires-in <duration>', 'how long the lock lasts: 30m, 8h, 2d, 1w', '8h')
    .option('-c, --comment <text>', 'why you hold it (shown to whoever is refused)', '')
    .action(async (selector: string | undefined, options: { items: string[]; expiresIn: string; comment: string }) => {
      const { lockAdd } = await import('./commands/lock.js');
      exitCode = await lockAdd(await site(), await output(), selector, options);
    });
  lock
    .command('remove')
    .summary('remove a soft lock by id')
    .argument('[selector]', 'hosts (see Selectors)')
    .argument('<id>', 'the lock id, as `fettle lock show` prints it')
    .action(async (selector: string | undefined, id: string) => {
      const { lockRemove } = await import('./commands/lock.js');
      exitCode = await lockRemove(await site(), await output(), selector, id);
    });
  lock
    .command('show')
    .summary('show the locks of the selected hosts: an apply in progress, and soft locks')
    .argument('[selector]', 'hosts (see Selectors)')
    .action(async (selector: string | undefined) => {
      const { lockShow } = await import('./commands/lock.js');
      exitCode = await lockShow(await site(), await output(), selector);
    });

  registerSitePackageCommands(program, { site, output, builtIn, setExit: (code) => (exitCode = code) });

  try {
    // Plugin commands (`fettle secret`, `fettle discover`) exist only once the site is loaded; a built-in
    // command, or help on one, never loads it.
    const words = argv.filter((arg, index) => !arg.startsWith('-') && !['-s', '--site'].includes(argv[index - 1] ?? ''));
    const wantsHelp = argv.includes('--help') || argv.includes('-h') || words[0] === 'help';
    const target = words[0] === 'help' ? words[1] : words[0];
    if (target !== undefined && !BUILTIN.has(target)) {
      program.parseOptions([...argv]);
      try {
        const [loaded, { mountPluginCommand }, makeOutput] = await Promise.all([site(), import('./plugin-commands.js'), loadOutput()]);
        for (const definition of loaded.registry.commands) mountPluginCommand(program, definition, loaded, makeOutput, (code) => (exitCode = code));
      } catch (error) {
        sitePromise = undefined;
        if (!wantsHelp) throw error;
      }
    }
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.ok;
    }
    await program.parseAsync([...argv], { from: 'user' });
    debug = Boolean(globals().debug);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      if (json) process.stdout.write(`${JSON.stringify(argumentErrorDocument(error), null, 2)}\n`);
      return EXIT.input;
    }
    const [{ reportFailure }, makeOutput] = await Promise.all([import('./errors.js'), loadOutput()]);
    return reportFailure(error, makeOutput(json), debug);
  }
}

