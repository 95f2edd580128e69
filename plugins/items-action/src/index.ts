import { definePlugin } from '@fettle/core';
import { actionItem } from './action.js';
import { commandStatus } from './facts.js';

export { actionItem, commandStatus };

export default definePlugin({
  name: '@fettle/items-action',
  version: '0.1.0',
  itemTypes: [actionItem],
  facts: [commandStatus],
});
