import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { arg, defineItemType, sh, z } from '@fettle/core';
import { fileStat } from './facts.js';
import { applyOwnership, ownerSpec, ownershipAttributes, ownershipState, parentItems, quickOwnership, validatePath } from './common.js';
import { flag, nonEmptyText, quickObject } from './quick-parse.js';

/** A symbolic link: target, owner, group; replaced atomically. */
export const symlinkItem = defineItemType({
  name: 'symlink',
  description: 'a symbolic link to a target path',
  attributes: z.strictObject({
    /** What the link points to, stored verbatim (absolute or relative). */
    target: z.string().min(1),
    ...ownershipAttributes,
    delete: z.boolean().default(false),
  }),
  // The target is required: without one, the schema says so.
  quickParse: quickObject({ target: nonEmptyText, ...quickOwnership, delete: flag }, { delete: false }, (parsed) => parsed.target !== undefined),
  validateName: validatePath,
  implicitNeeds: (item) => parentItems(item.name),
  // Its fix touches its own path only, in one command or one write.
  pathScope: 'leaf',

  cdict(item) {
    if (item.attrs.delete) return null;
    return { type: 'symlink', target: item.attrs.target, ...ownershipState(item.attrs) };
  },

  async sdict(item, context) {
    const stat = await context.fact(fileStat, item.name);
    if (!stat) return null;
    return { type: stat.type, target: stat.target, owner: stat.owner, group: stat.group };
  },

  async fix(change, item, context) {
    const real = context.hostPath(item.name);
    if (change.sdict?.['type'] === 'directory') throw new Error(`${item.name} is a directory; refusing to replace it with a symlink`);
    if (change.cdict === null) {
      await context.runChecked(sh`rm -f -- ${real}`);
      return;
    }
    if (change.sdict === null || change.keys.includes('type') || change.keys.includes('target')) {
      // Make the new link beside the old one, then rename over it: never a moment without a link.
      const temp = context.hostPath(path.posix.join(path.posix.dirname(item.name), `.${path.posix.basename(item.name)}.fettle-${randomBytes(6).toString('hex')}`));
      const spec = ownerSpec(item.attrs);
      const chown = spec === undefined ? sh`` : sh` && chown -h ${spec} ${temp}`;
      // The target is stored in the link as written (it is read on the host, relative to its own root): an argument, not mapped.
      await context.runChecked(sh`ln -s -- ${arg(item.attrs.target)} ${temp}${chown} && mv -Tf -- ${temp} ${real} || { rm -f -- ${temp}; exit 1; }`);
      return;
    }
    await applyOwnership(context, item.name, change.keys, item.attrs, true);
  },
});
