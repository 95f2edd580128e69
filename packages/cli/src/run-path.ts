// What a plan, apply or verify needs of the CLI beyond the command table, as one module: the
// bundler gives each module that dynamic imports reach from several places a chunk of its own, and
// every ES module costs node a resolve, a read, a compile (no code cache for ES modules on node 20)
// and a link. Importing the run command, the site loader and the output through this one module
// puts them in one chunk (other commands that need the site or the output load it too).
export { runCommand } from './commands/run.js';
export { loadSite } from './site.js';
export { Output } from './output.js';
