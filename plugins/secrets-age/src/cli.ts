import type { CommandContext, CommandDefinition } from '@fettle/core';
import { editSecret, keygenController, keygenHost, listSecrets, printSecret, rekeySecrets, setSecret, type EditorEnv } from './commands.js';
import { defaultControllerKeyFile } from './keys.js';
import { secretError } from './problem.js';
import { AgeSecretStore } from './store.js';

/** The process streams the commands use; tests pass their own. */
export interface SecretCommandIO {
  readonly stdin: AsyncIterable<string | Uint8Array>;
  readonly stdinIsTTY: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly env: EditorEnv;
}

const processIO = (): SecretCommandIO => ({
  stdin: process.stdin,
  stdinIsTTY: Boolean(process.stdin.isTTY),
  stdout: process.stdout,
  env: process.env,
});

async function ageStore(context: CommandContext): Promise<AgeSecretStore> {
  const site = await context.site();
  if (!site.secrets) {
    throw secretError('the site has no secret store', {
      where: site.dir,
      expected: '`secrets: ageSecretStore({ … })` in fettle.config.ts',
    });
  }
  if (!AgeSecretStore.isAgeSecretStore(site.secrets)) {
    throw secretError(`the site's secret store (${site.secrets.describe}) is not an age store`, {
      where: site.dir,
      expected: 'a store made by ageSecretStore() from @fettle/secrets-age',
    });
  }
  return site.secrets;
}

/** commander gives a variadic option as a list, a plain one as a string. */
function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((entry): entry is string => typeof entry === 'string');
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function firstArg(context: CommandContext, what: string): string {
  const value = context.args[0];
  if (value === undefined) throw secretError(`missing ${what}`, { expected: `fettle secret … <${what}>` });
  return value;
}

/**
 * `fettle secret keygen | set | get | edit | list | rekey`. Values never come from
 * the command line (it ends up in shell history and `ps`): stdin or $EDITOR.
 */
export function createSecretCommand(io: () => SecretCommandIO = processIO): CommandDefinition {
  return {
    name: 'secret',
    summary: 'manage age-encrypted secrets (keygen, set, get, edit, list, rekey)',
    subcommands: [
      {
        name: 'keygen',
        summary: 'make the controller key, or with --host a host key',
        options: [
          { flags: '--host <host>', description: 'make a key for this host: keys/hosts/HOST.pub and the secret host-key.HOST' },
          { flags: '--out <path>', description: 'write the new identity to this file (mode 0600; default: the store\'s key file, else $XDG_CONFIG_HOME/fettle/controller.key); `-` prints it' },
          { flags: '--force', description: 'replace an existing key' },
        ],
        async run(context) {
          const host = text(context.options.host);
          const out = text(context.options.out);
          const force = context.options.force === true;
          if (host !== undefined) {
            const made = await keygenHost(await ageStore(context), host, { force, out });
            if (context.json) context.out.json({ host, recipient: made.recipient, secret: made.secret, path: made.path ?? null });
            else {
              context.out.line(`host ${host}: public key ${made.recipient}`);
              context.out.line(`its identity is in the secret ${made.secret}${made.path ? ` and in ${made.path}` : ''}`);
            }
            return 0;
          }
          // Without --out: where the site's store reads it, by default a per-user folder outside the site.
          let target = out;
          if (target === undefined) {
            const source = (await ageStore(context).catch(() => undefined))?.keySource ?? { file: defaultControllerKeyFile() };
            if (!('file' in source)) {
              throw secretError('the controller key comes from a command, so keygen does not know where to write it', {
                expected: '--out PATH (or --out - to print it for your password manager)',
              });
            }
            target = source.file;
          }
          const made = await keygenController({ out: target, force, base: context.siteDir, siteDir: context.siteDir });
          if (made.gitignore !== undefined) context.out.error(`notice: ${made.path ?? target} is inside the site folder; added it to ${made.gitignore} so the private key is not committed`);
          if (made.path === undefined) {
            await new Promise<void>((resolve) => io().stdout.write(`${made.identity}\n`, () => resolve()));
            context.out.error(`public key: ${made.recipient}`);
          } else if (context.json) context.out.json({ path: made.path, recipient: made.recipient, gitignore: made.gitignore ?? null });
          else {
            context.out.line(`wrote ${made.path} (mode 0600)`);
            context.out.line(`public key: ${made.recipient}`);
            context.out.line('put it in controller_age_pub (inventory.conf) or controllerRecipient');
          }
          return 0;
        },
      },
      {
        name: 'set',
        summary: 'store a secret read from stdin or $EDITOR',
        args: '<name>',
        options: [
          { flags: '--host <host...>', description: 'a host that may read it (repeatable)' },
          { flags: '--group <group...>', description: 'a group whose members may read it (repeatable)' },
          { flags: '--raw', description: 'keep a final newline from stdin' },
        ],
        async run(context) {
          const name = firstArg(context, 'name');
          const hosts = strings(context.options.host);
          const groups = strings(context.options.group);
          const streams = io();
          // No --host/--group: an existing secret keeps its readers.
          const readers = hosts.length + groups.length > 0 ? { hosts, groups } : undefined;
          const store = await ageStore(context);
          await setSecret(store, name, { ...streams, raw: context.options.raw === true }, readers);
          const stored = await store.readerHosts(name);
          if (context.json) context.out.json({ name, hosts: stored });
          else context.out.line(`stored ${name} for the controller${stored.length > 0 ? ` and ${stored.join(', ')}` : ''}`);
          return 0;
        },
      },
      {
        name: 'get',
        summary: 'print a secret (decrypted with the controller key)',
        args: '<name>',
        async run(context) {
          await printSecret(await ageStore(context), firstArg(context, 'name'), io().stdout);
          return 0;
        },
      },
      {
        name: 'edit',
        summary: 'edit a secret in $EDITOR',
        args: '<name>',
        async run(context) {
          const name = firstArg(context, 'name');
          const changed = await editSecret(await ageStore(context), name, { env: io().env });
          if (context.json) context.out.json({ name, changed });
          else context.out.line(changed ? `stored ${name}` : `${name} unchanged`);
          return 0;
        },
      },
      {
        name: 'list',
        summary: 'list secrets and their readers',
        async run(context) {
          const listing = await listSecrets(await ageStore(context));
          if (context.json) context.out.json(listing);
          else {
            for (const { name, hosts, groups } of listing) {
              const readers = [...hosts.map((h) => `host:${h}`), ...groups.map((g) => `group:${g}`)];
              context.out.line(`${name}  ${readers.length > 0 ? readers.join(' ') : '(controller only)'}`);
            }
          }
          return 0;
        },
      },
      {
        name: 'rekey',
        summary: 're-encrypt every secret to its current readers',
        async run(context) {
          const results = await rekeySecrets(await ageStore(context));
          if (context.json) context.out.json(results);
          else {
            for (const { name, hosts } of results) context.out.line(`${name}: controller${hosts.length > 0 ? `, ${hosts.join(', ')}` : ''}`);
            context.out.line(`rekeyed ${results.length} secret${results.length === 1 ? '' : 's'}`);
          }
          return 0;
        },
      },
    ],
  };
}

export const secretCommand: CommandDefinition = createSecretCommand();
