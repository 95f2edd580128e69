import { arg, defineItemType, sh, z } from '@fettle/core';
import { fileStat } from './facts.js';
import { applyOwnership, modeSchema, ownershipAttributes, ownershipState, parentItems, quickOwnership, validatePath } from './common.js';
import { flag, octalMode, quickObject } from './quick-parse.js';

/** A directory: mode, owner, group. */
export const directoryItem = defineItemType({
  name: 'directory',
  description: 'a directory with mode and ownership',
  attributes: z.strictObject({
    mode: modeSchema.default('0755'),
    ...ownershipAttributes,
    /** Make sure the directory does not exist (removes its contents). */
    delete: z.boolean().default(false),
  }),
  quickParse: quickObject({ mode: octalMode, ...quickOwnership, delete: flag }, { mode: '0755', delete: false }),
  validateName: (name) => (name === '/' ? 'refusing to manage /' : validatePath(name)),
  implicitNeeds: (item) => parentItems(item.name),
  // Made empty when missing: what is under it stays absent until its own fix (which may share the batch).
  pathScope: 'container',

  cdict(item) {
    if (item.attrs.delete) return null;
    return { type: 'directory', mode: item.attrs.mode, ...ownershipState(item.attrs) };
  },

  async sdict(item, context) {
    const stat = await context.fact(fileStat, item.name);
    if (!stat) return null;
    return { type: stat.type, mode: stat.mode, owner: stat.owner, group: stat.group };
  },

  async fix(change, item, context) {
    const real = context.hostPath(item.name);
    if (change.cdict === null) {
      await context.runChecked(sh`rm -rf -- ${real}`);
      return;
    }
    if (change.sdict === null || change.sdict['type'] !== 'directory') {
      // Something else in the way (a file or a symlink) is replaced, as BundleWrap does.
      // Made with its mode (mkdir -m: no chmod process; a missing parent or a folder made
      // meanwhile falls back to mkdir -p and chmod), then its owner, in one command.
      const mode = arg(item.attrs.mode);
      const clear = change.sdict === null ? sh`` : sh`rm -f -- ${real} && `;
      const make = sh`${clear}{ mkdir -m ${mode} -- ${real} 2>/dev/null || { mkdir -p -- ${real} && chmod ${mode} ${real}; }; }`;
      await applyOwnership(context, item.name, ['owner', 'group'], item.attrs, false, [make]);
      return;
    }
    await applyOwnership(context, item.name, change.keys, item.attrs);
  },
});
