import { definePlugin } from '@fettle/core';
import { sshTransport } from './transport.js';

export { sshTransport } from './transport.js';
export { sshOptionsSchema, type SshOptions, type SshOptionsInput } from './options.js';
export {
  parseKnownHosts,
  fingerprint,
  knownHostName,
  entryMatches,
  checkHostKey,
  KnownHostsIndex,
  formatKnownHostLine,
  type KnownHostEntry,
  type KnownHostsParseResult,
  type HostKeyVerdict,
} from './known-hosts.js';

export default definePlugin({
  name: '@fettle/transport-ssh',
  version: '0.1.0',
  transports: [sshTransport],
});
