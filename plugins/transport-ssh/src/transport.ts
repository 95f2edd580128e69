import { defineTransport, FettleError, type ConnectContext, type ExecResult, type Host, type Transport, type TransportDefinition, type TransportDescription } from '@fettle/core';
import { openConnection } from './connect.js';
import { SshConnection } from './connection.js';
import { runCommand } from './exec.js';
import { sshOptionsSchema, type SshOptions } from './options.js';
import { resolveSettings } from './settings.js';
import { formatSshValues } from './ssh-values.js';
import { SftpFiles } from './sftp.js';
import { batchRunner, commandReads, createBecome, Leftovers, sweepingFirst, tarWriter, type FileReads, type Payload } from '@fettle/transport-shell';

/**
 * The `ssh` transport: one ssh2 connection per host, commands on channels
 * multiplexed over it (at most `maxChannels` at once). Writes of one tick travel as
 * one tar stream into one command; reads over one reused SFTP session, or over
 * commands under become (SFTP would run as the login user).
 */
export const sshTransport: TransportDefinition<typeof sshOptionsSchema> = defineTransport({
  name: 'ssh',
  description: 'SSH via ssh2: known_hosts, ~/.ssh/config, agent and key files, sudo/doas, one multiplexed connection per host',
  options: sshOptionsSchema,
  async connect(host, options: SshOptions, context): Promise<Transport> {
    let settings;
    try {
      settings = await resolveSettings(host, options, context.siteDir);
      if (settings.problems[0] !== undefined) throw new Error(settings.problems[0]);
    } catch (error) {
      throw new FettleError('E_TRANSPORT', error instanceof Error ? error.message : String(error), { where: `host ${host.name}`, cause: error });
    }
    for (const warning of settings.warnings) context.warn(warning);
    // Built before connecting so a bad become setup fails without touching the host.
    const become = createBecome(options, settings.target.user, context, host.name, 'ssh');
    // Keepalive from the options wins over ssh_config's ServerAliveInterval/CountMax.
    const keepalive = {
      ...(options.serverAliveInterval !== undefined ? { keepaliveIntervalMs: options.serverAliveInterval * 1000 } : {}),
      ...(options.serverAliveCountMax !== undefined ? { keepaliveCountMax: options.serverAliveCountMax } : {}),
    };
    const resolved = { ...settings, target: { ...settings.target, ...keepalive } };
    const connection = new SshConnection(await openConnection(resolved, context), host.name, options.maxChannels);
    const { target } = settings;
    const leftovers = new Leftovers(`${target.user}@${target.hostname}_${String(target.port)}`);
    // Temp files a lost connection left last time go in the first command: no extra round trip.
    const runAsTarget = sweepingFirst(leftovers, async (command: string, stdin?: Payload, timeoutMs: number | undefined = options.commandTimeoutMs): Promise<ExecResult> => {
      const wrapped = become.wrap(command);
      if (wrapped.refuse) throw wrapped.refuse;
      return runCommand(connection, wrapped.command, { stdin, timeoutMs, gate: wrapped.gate });
    });

    const viaExec = commandReads((command, stdin) => runAsTarget(command, stdin), host.name);
    const files: FileReads = become.active ? viaExec : withFallback(new SftpFiles(connection), viaExec);
    // Every write, with or without become: the writes of one tick in one command and one tar stream.
    const writerOptions = {
      hostName: host.name,
      user: become.active ? options.becomeUser : target.user,
      leftover: (temp: string) => leftovers.add(temp),
      alive: () => runCommand(connection, 'true', { timeoutMs: options.commandTimeoutMs }),
    };
    const own = (command: string, stdin?: Payload) => runAsTarget(command, stdin);
    const writeFile = tarWriter(own, writerOptions);

    return {
      root: options.root,
      exec: (command, execOptions = {}) =>
        runAsTarget(command, execOptions.stdin === undefined ? undefined : Buffer.from(execOptions.stdin), execOptions.timeoutMs ?? options.commandTimeoutMs),
      readFile: (path) => files.readFile(path),
      writeFile,
      writeLocalFile: writeFile,
      // The batch runs as the target user already (become wraps the whole batch).
      writeVia: (link) => tarWriter(batchRunner(link, own), writerOptions),
      stat: (path) => files.stat(path),
      close: () => connection.close(),
    };
  },
  describe: describeSettings,
});

/** The settings connect would use, each hop in `ssh -G`'s spelling (for `fettle hosts HOST --ssh`). */
async function describeSettings(host: Host, options: SshOptions, context: ConnectContext): Promise<TransportDescription> {
  const settings = await resolveSettings(host, options, context.siteDir);
  const hops = [...settings.jumps, settings.target].map((endpoint) => ({
    name: endpoint.alias,
    settings: formatSshValues(endpoint.values).map((line) => {
      const space = line.indexOf(' ');
      return [line.slice(0, space), line.slice(space + 1)] as const;
    }),
  }));
  return { hops, warnings: [...settings.problems, ...settings.warnings] };
}

/** SFTP when the server offers it, else the same operations through commands. */
function withFallback(sftp: SftpFiles, viaExec: FileReads): FileReads {
  const pick = async (): Promise<FileReads> => ((await sftp.session()) ? sftp : viaExec);
  return {
    readFile: async (path) => (await pick()).readFile(path),
    stat: async (path) => (await pick()).stat(path),
  };
}
