import { defineRole } from '@fettle/core';

/** Web servers: a document root with a page per host. */
export const web = defineRole((host) => ({
  'directory:/srv/www': { mode: '0755' },
  'directory:/srv/www/releases': {},
  'file:/srv/www/releases/index-v1.html': { content: `<h1>${host.name}</h1>\n<p>release v1</p>\n` },
  'symlink:/srv/www/index.html': { target: 'releases/index-v1.html' },
}));
