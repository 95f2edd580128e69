export { main } from './main.js';
export { loadSite, findConfig, type LoadedSite } from './site.js';
export { EXIT } from './exit-codes.js';
export { exitCodeOf } from './commands/run.js';
