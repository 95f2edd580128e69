import { definePlugin } from '@fettle/core';
import { pkgAptItem } from './pkg-apt.js';
import { dpkgStatus } from './facts.js';

export { pkgAptItem, dpkgStatus };
export type { PkgAptAttributes } from './pkg-apt.js';
export type { DpkgPackage } from './facts.js';
export { aptUpdate, aptUpdateCommand, aptInstallCommand, aptRemoveCommand, APT_LOCK_TIMEOUT_SECONDS } from './apt.js';
export type { AptOptions, CommandRunner } from './apt.js';

export default definePlugin({
  name: '@fettle/items-apt',
  version: '0.1.0',
  itemTypes: [pkgAptItem],
  facts: [dpkgStatus],
});
