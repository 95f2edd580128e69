import { arg, defineItemType, sh, z } from '@fettle/core';
import { accounts } from './facts.js';
import { displayAccountValue, validateAccountName } from './common.js';

const attributes = z.strictObject({
  gid: z.number().int().min(0).optional(),
  /** Make sure the group does not exist (`groupdel`). */
  delete: z.boolean().default(false),
});

/** A local group: groupadd, groupmod, groupdel. */
export const groupItem = defineItemType({
  name: 'group',
  description: 'a local group (groupadd, groupmod, groupdel)',
  attributes,
  validateName: validateAccountName,
  // A user's own group can only go after the user (groupdel refuses a primary group).
  implicitNeeds: (item) => (item.attrs.delete ? [`user:${item.name}`] : []),

  cdict(item) {
    if (item.attrs.delete) return null;
    return item.attrs.gid === undefined ? {} : { gid: item.attrs.gid };
  },

  async sdict(item, context) {
    const { group } = await context.fact(accounts, item.name);
    return group === null ? null : { gid: group.gid, members: [...group.members].sort() };
  },

  async fix(change, item, context) {
    const name = arg(item.name);
    const gid = item.attrs.gid === undefined ? sh`` : sh` -g ${item.attrs.gid}`;
    if (change.cdict === null) await context.runChecked(sh`groupdel ${name}`);
    else if (change.sdict === null) await context.runChecked(sh`groupadd${gid} ${name}`);
    else await context.runChecked(sh`groupmod${gid} ${name}`);
  },

  displayValue: displayAccountValue,
});
