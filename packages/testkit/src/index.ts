/**
 * @fettle/testkit: helpers for testing fettle item types and transports against a
 * real OpenSSH sshd. Node builtins only, and no test-runner import at runtime, so it
 * works under vitest, node:test or anything else.
 */
export {
  SSHD_PATH,
  sshFingerprint,
  sshdForTests,
  startSshd,
  type SshdForTests,
  type SshdHost,
  type SshdKit,
  type SshInventoryHost,
  type StartSshdOptions,
} from './sshd.js';
export { parseSshdLog, type SshdCounts, type SshdMark } from './log.js';
export { authorizeKey, createTestUser, grantNopasswdSudo, type TestUser, type UserRef } from './users.js';
export { createAptTestRepo, type AptTestPackage, type AptTestRepo } from './apt-repo.js';
export { silentHost, type SilentHost } from './silent.js';
export { findVerdaccio, startRegistry, type RegistryKit, type StartRegistryOptions } from './registry.js';
export type { InstalledNeed } from './registry-mirror.js';
export { machineSupport, startMachine, type Machine, type StartMachineOptions } from './machine.js';
export { machinesForTests, type MachinesForTests, type MachinesForTestsOptions } from './machines-for-tests.js';
export {
  MACHINE_BASE_PACKAGES,
  MACHINE_DEFAULT_DOWNLOADS,
  hostDebianMirror,
  machineTreePath,
  machineTreeReady,
  prepareMachineTree,
  type MachineTreeOptions,
} from './machine-tree.js';
export { machineLeftovers, type LeftoverOwner } from './machine-cleanup.js';
export { asRequest, setupSshConfigTable, TABLE_ALIASES, type SshConfigTable, type SshLookup, type TableCase } from './ssh-config-table.js';
export { snapshotTree, type TreeEntry } from './tree.js';
export { jumpChainForTests, makeTestCertificates, type JumpChainForTests, type TestCertificates } from './ssh-fixtures.js';
