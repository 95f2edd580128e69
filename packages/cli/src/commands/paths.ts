// Default paths the help text names. Kept apart from the commands that use them so that
// `fettle --help` can print them without loading those commands (or @fettle/core).

/** The build folder, relative to the site. */
export const DEFAULT_OUT = 'dist';
/** Under the node's root: installed versions, the last report, the lock. */
export const PULL_STATE_DIR = 'var/lib/fettle/pull';
/** Debian's prometheus-node-exporter reads *.prom files here (its --collector.textfile.directory). */
export const TEXTFILE_PATH = 'var/lib/prometheus/node-exporter/fettle.prom';
