import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Redactor, connectHost, formatError, isFettleError, type CommandDefinition } from '@fettle/core/engine';
import { EXIT, EXIT_HELP } from './exit-codes.js';
import { Output } from './output.js';
import { loadSite, type BuiltInSite, type LoadedSite } from './site.js';
import { siteAsNode } from './node-mode.js';
import { runCommand } from './commands/run.js';
import { createSecretPrompt } from './prompt.js';
import { hostsCommand, itemsCommand } from './commands/inspect.js';
import { sshSettingsCommand } from './commands/ssh-settings.js';
import { pluginsCommand } from './commands/plugins.js';
import { addPluginsCommand } from './commands/add.js';
import { initCommand } from './commands/init.js';
import { tasksCommand } from './commands/tasks.js';
import { lockAdd, lockRemove, lockShow } from './commands/lock.js';
import { SITE_PACKAGE_COMMANDS, registerSitePackageCommands } from './commands/site-package.js';

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
  (none)           every host`;

/** `-j 4`: a positive integer, or a clear error before anything runs. */
function positiveInteger(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value.trim())) throw new InvalidArgumentError(`expected a positive integer such as 8, got '${value}'`);
  return Number(value);
}

/** An error as scripts read it under --json: `{"error": {code, message, where, expected, hint}}`. */
export function errorDocument(error: unknown): { error: { code: string; message: string; where: string | null; expected: string | null; hint: string | null } } {
  if (error instanceof CommanderError) {
    return { error: { code: 'E_ARGUMENT', message: error.message.replace(/^error: /, ''), where: 'command line', expected: null, hint: 'see fettle --help' } };
  }
  if (isFettleError(error)) {
    return { error: { code: error.code, message: error.message, where: error.where ?? null, expected: error.expected ?? null, hint: error.hint ?? null } };
  }
  return { error: { code: 'E_INTERNAL', message: error instanceof Error ? error.message : String(error), where: null, expected: null, hint: 'run again with --debug for the stack trace' } };
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
  const redactor = new Redactor();
  const output = (): Output => new Output({ json: Boolean(globals().json), redactor });
  let sitePromise: Promise<LoadedSite> | undefined;
  const site = (): Promise<LoadedSite> => (sitePromise ??= builtIn ? builtIn.load() : loadSite(globals().site));

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
      const loaded = options.node === undefined ? await site() : await siteAsNode(await site(), options);
      exitCode = await runCommand(loaded, output(), {
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
      exitCode = await itemsCommand(await site(), output(), host, options.preview);
    });
  program
    .command('tasks')
    .summary('list the setup tasks of a host: whether each would run, and why')
    .argument('<host>', 'host name')
    .action(async (host: string) => {
      exitCode = await tasksCommand(await site(), output(), host);
    });
  program
    .command('hosts')
    .summary('list hosts, their transport, groups and roles')
    .argument('[selector]', 'hosts to list (see Selectors)')
    .option('--vars', "show each host's vars and where each value came from")
    .option('--ssh', "show the SSH settings each host will be reached with, and each jump host's, as ssh -G spells them")
    .action(async (selector: string | undefined, options: { vars?: boolean; ssh?: boolean }) => {
      exitCode = options.ssh ? await sshSettingsCommand(await site(), output(), selector) : await hostsCommand(await site(), output(), selector, Boolean(options.vars));
    });
  program
    .command('plugins')
    .summary("list the site's plugins, their versions and what each provides")
    .action(async () => {
      exitCode = pluginsCommand(await site(), output());
    });
  program
    .command('init')
    .summary('start a site package in a new or empty folder (same as npm create fettle)')
    .argument('[dir]', 'folder of the new site', '.')
    .option('--no-install', 'only write the files; add no dependencies')
    .action((dir: string, options: { install: boolean }) => {
      exitCode = initCommand(dir, options, output());
    });
  program
    .command('add')
    .summary('install plugins by name and add them to fettle.config.ts')
    .description(
      'Install each plugin with the site\'s package manager and add its import and its entry to fettle.config.ts, keeping the rest of the file as written. NAME is a short name (apt: @fettle/items-apt, then fettle-plugin-apt), @scope/NAME (@scope/fettle-plugin-NAME) or a full package name. A package without the fettle-plugin keyword or without a plugin as its default export is refused (exit 3). Adding a plugin the site has changes nothing.',
    )
    .argument('<name...>', 'plugins to add')
    .action(async (names: string[]) => {
      exitCode = await addPluginsCommand(globals().site, names, output());
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
      exitCode = await lockAdd(await site(), output(), selector, options);
    });
  lock
    .command('remove')
    .summary('remove a soft lock by id')
    .argument('[selector]', 'hosts (see Selectors)')
    .argument('<id>', 'the lock id, as `fettle lock show` prints it')
    .action(async (selector: string | undefined, id: string) => {
      exitCode = await lockRemove(await site(), output(), selector, id);
    });
  lock
    .command('show')
    .summary('show the locks of the selected hosts: an apply in progress, and soft locks')
    .argument('[selector]', 'hosts (see Selectors)')
    .action(async (selector: string | undefined) => {
      exitCode = await lockShow(await site(), output(), selector);
    });

  registerSitePackageCommands(program, { site, output, builtIn, setExit: (code) => (exitCode = code) });

  try {
    // Plugin commands (`fettle secret`, `fettle discover`) exist only once the site is loaded.
    const word = argv.find((arg, index) => !arg.startsWith('-') && !['-s', '--site'].includes(argv[index - 1] ?? ''));
    const wantsHelp = argv.includes('--help') || argv.includes('-h') || word === 'help' || word === undefined;
    if ((word !== undefined && !BUILTIN.has(word)) || wantsHelp) {
      program.parseOptions([...argv]);
      try {
        const loaded = await site();
        for (const definition of loaded.registry.commands) mountPluginCommand(program, definition, loaded, output, (code) => (exitCode = code));
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
      if (json) new Output({ json: true, redactor }).document(errorDocument(error));
      return EXIT.input;
    }
    const out = new Output({ json, redactor });
    if (json) out.document(errorDocument(error));
    else out.error(`fettle: ${formatError(error)}`);
    if (debug) for (const stack of stacks(error)) out.error(stack);
    if (isFettleError(error)) return error.isInputError ? EXIT.input : EXIT.failed;
    return EXIT.failed;
  }
}

/** The stack of an error and of each of its causes, for --debug (scrubbed by the output like everything else). */
function stacks(error: unknown): string[] {
  const found: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (current.stack) found.push(depth === 0 ? current.stack : `caused by: ${current.stack}`);
  }
  return found;
}

function mountPluginCommand(
  parent: Command,
  definition: CommandDefinition,
  site: LoadedSite,
  output: () => Output,
  setExit: (code: number) => void,
): void {
  if (parent.commands.some((command) => command.name() === definition.name)) return;
  const command = parent.command(definition.name).summary(definition.summary).description(definition.summary);
  if (definition.args) command.arguments(definition.args);
  for (const option of definition.options ?? []) {
    const entry = new Option(option.flags, option.description);
    if (option.default !== undefined) entry.default(option.default);
    command.addOption(entry);
  }
  for (const sub of definition.subcommands ?? []) mountPluginCommand(command, sub, site, output, setExit);
  const run = definition.run?.bind(definition);
  if (!run) return;
  const secretPrompt = createSecretPrompt();
  command.action(async (...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const out = output();
    setExit(
      await run({
        args: self.args,
        options: self.opts(),
        siteDir: site.dir,
        site: () => Promise.resolve({ dir: site.dir, hosts: site.hosts, secrets: site.secrets }),
        selectHosts: (selector) => site.select(selector),
        connect: (host) =>
          connectHost(site.registry, host, {
            siteDir: site.dir,
            warn: (message) => out.error(`warning: ${host.name}: ${message}`),
            prompt: secretPrompt,
          }),
        out: { line: (text) => out.line(text), json: (value) => out.document(value), error: (text) => out.error(text) },
        json: out.json,
        isTTY: Boolean(process.stdout.isTTY),
      }),
    );
  });
}
