import { definePlugin } from '@fettle/core';
import { fileItem } from './file.js';
import { directoryItem } from './directory.js';
import { symlinkItem } from './symlink.js';
import { fileStat } from './facts.js';

export { fileItem, directoryItem, symlinkItem, fileStat };
export type { FileStat } from './facts.js';
// The path and ownership helpers every file-like item type needs (template-eta builds on them).
export { applyOwnership, modeSchema, ownershipAttributes, ownershipState, parentItems, validatePath } from './common.js';

export default definePlugin({
  name: '@fettle/items-files',
  version: '0.1.0',
  itemTypes: [fileItem, directoryItem, symlinkItem],
  facts: [fileStat],
});
