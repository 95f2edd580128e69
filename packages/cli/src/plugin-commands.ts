import type { Command } from 'commander';
import { Option } from 'commander';
import { connectHost, type CommandDefinition } from '@fettle/core/engine';
import type { Output } from './output.js';
import { createSecretPrompt } from './prompt.js';
import type { LoadedSite } from './site.js';

/** Mount a plugin's command (`fettle secret`, `fettle discover`) and its subcommands on the program. */
export function mountPluginCommand(parent: Command, definition: CommandDefinition, site: LoadedSite, output: () => Output, setExit: (code: number) => void): void {
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
