import { defineRole } from '@fettle/core';

const CONFIG = '/etc/lighttpd/lighttpd.conf';

/**
 * A small web server: the lighttpd package, its configuration from a template
 * (a change reloads it, no restart), a page, and the service enabled and running.
 * Host vars: `http_port`, `server_tag`, `greeting`.
 */
export const webserver = defineRole((host) => {
  const greeting = typeof host.vars['greeting'] === 'string' ? host.vars['greeting'] : 'Hello';
  return {
    'pkg_apt:lighttpd': {},
    [`template:${CONFIG}`]: {
      source: 'templates/lighttpd.conf.eta',
      needs: ['pkg_apt:lighttpd'], // after the package, which ships a config of its own
      triggers: ['svc_systemd_reload:lighttpd'],
    },
    'file:/var/www/html/index.html': {
      content: `<h1>${greeting} from ${host.name}</h1>\n`,
      needs: ['pkg_apt:lighttpd'],
    },
    'svc_systemd:lighttpd': { enabled: true, running: true, needs: [`template:${CONFIG}`] },
    'svc_systemd_reload:lighttpd': {},
  };
});
