export { createSite, siteName, CreateSiteError, type CreateSiteOptions, type CreatedSite } from './scaffold.js';
export { SITE_DEPENDENCIES } from './templates.js';
export { addCommand, detectPackageManager, packageManagerFromAgent, removeCommand, runPrefix, type PackageManager } from './package-manager.js';
