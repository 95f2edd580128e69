import { defineItemType, FettleError, sh, z, type Change, type CommandResult, type ItemContext, type ItemInstance, type Shell } from '@fettle/core';
import { aptInstallCommand, aptRemoveCommand, aptUpdateCommand, checkApt } from './apt.js';
import { dpkgStatus, PACKAGE_NAME } from './facts.js';

const attributes = z
  .strictObject({
    /** false: make sure the package is not installed (`apt-get remove`). */
    installed: z.boolean().default(true),
    /** Exact version to install (`apt-get install name=version`, downgrading if needed). */
    version: z.string().min(1).optional(),
    /** Run `apt-get update` before installing, when this package needs installing. */
    update_cache: z.boolean().default(false),
  })
  .refine((attrs) => attrs.installed || attrs.version === undefined, { message: 'version needs installed: true' });

export type PkgAptAttributes = z.output<typeof attributes>;
type Entry = { readonly change: Change; readonly item: ItemInstance<PkgAptAttributes> };

/**
 * Install or remove everything ready in one wave with one `apt-get install` and one
 * `apt-get remove`, sent together in one remote script (removals first, so a
 * package replaced by another can leave before its successor arrives).
 */
async function fixPackages(entries: readonly Entry[], context: ItemContext): Promise<void> {
  const install = entries.filter((entry) => entry.change.cdict !== null).map(({ item }) => (item.attrs.version === undefined ? item.name : `${item.name}=${item.attrs.version}`));
  const remove = entries.filter((entry) => entry.change.cdict === null).map(({ item }) => item.name);
  const update = entries.some((entry) => entry.change.cdict !== null && entry.item.attrs.update_cache);
  const steps: Promise<[string, CommandResult]>[] = [];
  const step = (what: string, command: Shell) => steps.push(context.run(command).then((result) => [what, result]));
  if (remove.length > 0) step(`apt-get remove ${remove.join(' ')}`, aptRemoveCommand(remove));
  if (install.length > 0) {
    const command = aptInstallCommand(install);
    step(`${update ? 'apt-get update, ' : ''}apt-get install ${install.join(' ')}`, update ? sh`${aptUpdateCommand()} && ${command}` : command);
  }
  const failures: string[] = [];
  for (const [what, result] of await Promise.all(steps)) {
    try {
      checkApt(what, result);
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  // fixMany can only fail the whole batch; the message says which step failed.
  if (failures.length > 0) throw new FettleError('E_COMMAND', failures.join('\n'), { where: `host ${context.host.name}` });
}

/** A Debian package, installed (optionally at a version) or absent. */
export const pkgAptItem = defineItemType({
  name: 'pkg_apt',
  description: 'a Debian package installed or removed with apt-get',
  attributes,
  blockConcurrent: ['pkg_apt'],
  validateName: (name) => (PACKAGE_NAME.test(name) ? undefined : 'expected a Debian package name (lowercase letters, digits, + - .), optionally with :architecture'),

  cdict(item) {
    if (!item.attrs.installed) return null;
    return item.attrs.version === undefined ? { installed: true } : { installed: true, version: item.attrs.version };
  },

  async sdict(item, context) {
    const pkg = await context.fact(dpkgStatus, item.name);
    // Never installed, or removed with only config files left: absent.
    if (pkg === null || pkg.version === null) return null;
    return { installed: pkg.installed, version: pkg.version, _status: pkg.status };
  },

  fix: (change, item, context) => fixPackages([{ change, item }], context),
  fixMany: (entries, context) => fixPackages(entries, context),
});
