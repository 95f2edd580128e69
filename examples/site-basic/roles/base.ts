import { defineRole } from '@fettle/core';

/** Every host: a config folder, a motd, a link to it, and a managed line. */
export const base = defineRole((host) => ({
  'directory:/etc/fettle-demo': { mode: '0755' },
  'file:/etc/fettle-demo/motd': {
    content: `${String(host.vars['greeting'])}, this is ${host.name}.\nManaged by fettle; contact ${String(host.vars['admin'])}.\n`,
    mode: '0644',
  },
  'symlink:/etc/motd': { target: 'fettle-demo/motd' },
  // Content not managed here: the line item below adds to whatever is there.
  'file:/etc/fettle-demo/settings.conf': { mode: '0640' },
  'line:/etc/fettle-demo/settings.conf=listen = 0.0.0.0': { needs: ['file:/etc/fettle-demo/settings.conf'] },
}));
