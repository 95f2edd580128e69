import { definePlugin } from '@fettle/core';
import { opensshTransport } from './transport.js';

export { opensshTransport } from './transport.js';
export { opensshOptionsSchema, type OpensshOptions, type OpensshOptionsInput } from './options.js';

export default definePlugin({
  name: '@fettle/transport-openssh',
  version: '0.1.0',
  transports: [opensshTransport],
});
