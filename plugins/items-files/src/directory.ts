import { defineItemType, sh, z } from '@fettle/core';
import { fileStat } from './facts.js';
import { applyOwnership, modeSchema, ownershipAttributes, ownershipState, parentItems, validatePath } from './common.js';

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
      // Made, then mode and owner set, in one command: one round trip, not two.
      const make = change.sdict === null ? sh`mkdir -p -- ${real}` : sh`rm -f -- ${real} && mkdir -p -- ${real}`;
      await applyOwnership(context, item.name, ['mode', 'owner', 'group'], item.attrs, false, [make]);
      return;
    }
    await applyOwnership(context, item.name, change.keys, item.attrs);
  },
});
