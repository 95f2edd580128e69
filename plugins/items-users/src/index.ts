import { definePlugin } from '@fettle/core';
import { userItem } from './user.js';
import { groupItem } from './group.js';
import { accounts } from './facts.js';

export { userItem, groupItem, accounts };
export type { UserAttributes } from './user.js';
export type { Accounts, UserEntry, GroupEntry } from './facts.js';

export default definePlugin({
  name: '@fettle/items-users',
  version: '0.1.0',
  itemTypes: [userItem, groupItem],
  facts: [accounts],
});
