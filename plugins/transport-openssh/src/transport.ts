import { defineTransport, FettleError, type ConnectContext, type ExecResult, type Host, type Transport, type TransportDefinition } from '@fettle/core';
import { batchRunner, createBecome, Leftovers, sweepingFirst, tarWriter, type Payload } from '@fettle/transport-shell';
import { commandLine, effectiveSettings } from './command-line.js';
import { describeHops } from './describe.js';
import { Sessions } from './exec.js';
import { commandFiles } from './files.js';
import { Master } from './master.js';
import { opensshOptionsSchema, type OpensshOptions } from './options.js';

/**
 * The `openssh` transport: the system `ssh`, so whatever the user's ssh supports
 * (certificates, FIDO keys, GSSAPI, Match exec, ProxyCommand) works as it does for
 * them. One ControlMaster connection per host; every command is a session on it; files
 * travel as commands (every write of one tick in one tar stream, one command).
 */
export const opensshTransport: TransportDefinition<typeof opensshOptionsSchema> = defineTransport({
  name: 'openssh',
  description: 'SSH via the system ssh binary: ControlMaster, everything your OpenSSH supports (certificates, FIDO keys, GSSAPI, Match exec)',
  options: opensshOptionsSchema,
  async connect(host: Host, options: OpensshOptions, context: ConnectContext): Promise<Transport> {
    let line;
    let settings;
    try {
      line = commandLine(host, options, context.siteDir);
      settings = await effectiveSettings(line);
    } catch (error) {
      throw new FettleError('E_TRANSPORT', error instanceof Error ? error.message : String(error), { where: `host ${host.name}`, cause: error });
    }
    const user = settings.get('user')?.[0] ?? '';
    // Built before connecting, so a bad become setup fails without touching the host.
    const become = createBecome(options, user, context, host.name, 'openssh');
    const configured = Number.parseInt(settings.get('connecttimeout')?.[0] ?? '', 10);
    const timeoutMs = options.connectTimeoutMs ?? (configured > 0 ? configured * 1000 : 10_000);
    const where = `${host.name} (${user}@${settings.get('hostname')?.[0] ?? line.destination}:${settings.get('port')?.[0] ?? '22'})`;
    if (settings.get('stricthostkeychecking')?.[0] === 'false') {
      context.warn(`host key checking is OFF (${options.hostKeyPolicy === 'off' ? "hostKeyPolicy 'off'" : 'ssh_config StrictHostKeyChecking no'}); ssh accepts whatever key the host offers`);
    }
    const master = await Master.open(line, timeoutMs, context, where);
    for (const warning of master.warnings) context.warn(`ssh: ${warning}`);
    const sessions = new Sessions(master, line.binary, host.name, options.maxSessions);

    // Temp folders a lost connection left last time go in the first command (the same record the ssh2 transport keeps).
    const leftovers = new Leftovers(`${user}@${settings.get('hostname')?.[0] ?? line.destination}_${settings.get('port')?.[0] ?? '22'}`);
    const runAsTarget = sweepingFirst(leftovers, (command: string, stdin?: Payload, timeout: number | undefined = options.commandTimeoutMs): Promise<ExecResult> => {
      const wrapped = become.wrap(command);
      if (wrapped.refuse) return Promise.reject(wrapped.refuse);
      return sessions.run(wrapped.command, { stdin, timeoutMs: timeout, gate: wrapped.gate });
    });
    const writerOptions = {
      hostName: host.name,
      user: become.active ? options.becomeUser : user,
      leftover: (temp: string) => leftovers.add(temp),
    };
    const own = (command: string, stdin?: Payload) => runAsTarget(command, stdin);
    const files = commandFiles(own, writerOptions);
    return {
      root: options.root,
      exec: (command, execOptions = {}) =>
        runAsTarget(command, execOptions.stdin === undefined ? undefined : Buffer.from(execOptions.stdin), execOptions.timeoutMs ?? options.commandTimeoutMs),
      readFile: (path) => files.readFile(path),
      writeFile: (path, data, ownership) => files.writeFile(path, data, ownership),
      writeLocalFile: (path, file, ownership) => files.writeFile(path, file, ownership),
      // The batch runs as the target user already (become wraps the whole batch).
      writeVia: (link) => tarWriter(batchRunner(link, own), writerOptions),
      stat: (path) => files.stat(path),
      close: () => master.close(),
    };
  },
  describe: (host: Host, options: OpensshOptions, context: ConnectContext) => describeHops(commandLine(host, options, context.siteDir)),
});
