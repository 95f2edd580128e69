import { FettleError, arg, sh, type CommandResult, type Shell } from '@fettle/core';

/** How long apt waits for another apt or dpkg to release its lock before failing. */
export const APT_LOCK_TIMEOUT_SECONDS = 300;

export interface AptOptions {
  /** Seconds to wait for the dpkg lock (default 300). */
  readonly lockTimeoutSeconds?: number | undefined;
}

/** The environment and options every apt-get run of fettle uses: never ask, wait for the lock. */
function aptGet(options: AptOptions): Shell {
  const timeout = options.lockTimeoutSeconds ?? APT_LOCK_TIMEOUT_SECONDS;
  return sh`DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=${Math.max(0, Math.floor(timeout))}`;
}

/** `apt-get update` (its `.text` for code that talks to a transport directly). */
export function aptUpdateCommand(options: AptOptions = {}): Shell {
  return sh`${aptGet(options)} update`;
}

/**
 * Install the given specs (`name` or `name=version`) in one transaction. Keeps
 * changed config files (confold) and skips recommends, as BundleWrap's pkg_apt does.
 */
export function aptInstallCommand(specs: readonly string[], options: AptOptions = {}): Shell {
  return sh`${aptGet(options)} -y --no-install-recommends --allow-downgrades -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install ${specs.map((spec) => arg(spec))}`;
}

/** Remove the given packages in one transaction (config files stay, as with `apt-get remove`). */
export function aptRemoveCommand(names: readonly string[], options: AptOptions = {}): Shell {
  return sh`${aptGet(options)} -y remove ${names.map((name) => arg(name))}`;
}

/** Anything that runs a command on a host: an item context, a task context, a fleet job's wrapper. */
export interface CommandRunner {
  run(command: Shell): Promise<CommandResult>;
}

/** Throw a FettleError with the tail of apt's output when the command failed. */
export function checkApt(what: string, result: CommandResult): CommandResult {
  if (result.code === 0) return result;
  const output = (result.stderr.trim() || result.stdout.trim() || '(no output)').split('\n').slice(-15).join('\n');
  throw new FettleError('E_COMMAND', `${what} failed (exit ${String(result.code)}):\n${output}`, {
    hint: result.stderr.includes('Unable to locate package') ? 'check the package name, or set update_cache: true' : undefined,
  });
}

/** Refresh the host's apt package lists (repo sync). Throws when apt-get update fails. */
export async function aptUpdate(context: CommandRunner, options: AptOptions = {}): Promise<CommandResult> {
  return checkApt('apt-get update', await context.run(aptUpdateCommand(options)));
}
