import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FettleError } from '@fettle/core';
import type { SiteFile } from './files.js';

/** What a bundle knows of itself: written into it at build time. */
export interface BundleIdentity {
  readonly name: string;
  readonly version: string;
  /** The config file, relative to the site folder. */
  readonly config: string;
}

/** A file name made of the package name (`@acme/site` → `acme-site`). */
export function fileBase(name: string): string {
  return name.replace(/^@/, '').replace(/[^A-Za-z0-9._-]+/g, '-');
}

/**
 * Code that runs before any module of the bundle: it unpacks the site's files
 * (inventory, encrypted secrets, host public keys) beside the bundle, once per
 * version, through a temp folder renamed into place, and names that folder as the
 * site folder (`import.meta.dirname` of the config). `require`, `__filename` and
 * `__dirname` are there for the bundled CommonJS code (ssh2, say).
 */
function banner(identity: BundleIdentity, files: readonly SiteFile[]): string {
  const embedded = Object.fromEntries(files.map((file) => [file.path, file.data.toString('base64')]));
  const folder = `${fileBase(identity.name)}-${identity.version}.site`;
  return `import { createRequire as __fettleCreateRequire } from 'node:module';
import * as __fettleFs from 'node:fs';
import * as __fettlePath from 'node:path';
import * as __fettleUrl from 'node:url';
const require = __fettleCreateRequire(import.meta.url);
const __filename = __fettleUrl.fileURLToPath(import.meta.url);
const __dirname = __fettlePath.dirname(__filename);
const __fettleSite = (() => {
  const identity = ${JSON.stringify(identity)};
  const files = ${JSON.stringify(embedded)};
  const dir = process.env.FETTLE_SITE_DIR || __fettlePath.join(__fettlePath.dirname(__fettleUrl.fileURLToPath(import.meta.url)), ${JSON.stringify(folder)});
  const marker = __fettlePath.join(dir, '.fettle-site.json');
  if (!__fettleFs.existsSync(marker)) {
    const temp = dir + '.tmp-' + process.pid;
    __fettleFs.rmSync(temp, { recursive: true, force: true });
    for (const [name, data] of Object.entries(files)) {
      const target = __fettlePath.join(temp, name);
      __fettleFs.mkdirSync(__fettlePath.dirname(target), { recursive: true });
      __fettleFs.writeFileSync(target, Buffer.from(data, 'base64'));
    }
    __fettleFs.mkdirSync(temp, { recursive: true });
    __fettleFs.writeFileSync(__fettlePath.join(temp, '.fettle-site.json'), JSON.stringify(identity) + '\\n');
    __fettleFs.rmSync(dir, { recursive: true, force: true });
    try { __fettleFs.renameSync(temp, dir); } catch (error) { if (!__fettleFs.existsSync(marker)) throw error; __fettleFs.rmSync(temp, { recursive: true, force: true }); }
  }
  const configPath = __fettlePath.join(dir, identity.config);
  return { ...identity, dir, configPath, url: __fettleUrl.pathToFileURL(configPath).href };
})();
`;
}

/**
 * One ESM file holding the site, its plugins, the core and the CLI: `node FILE
 * apply --node NAME` needs nothing else on the target. Native addons and esbuild
 * (only used to compile a config, which a bundle never does) stay out.
 */
export async function buildBundle(siteDir: string, configPath: string, identity: BundleIdentity, files: readonly SiteFile[]): Promise<Uint8Array> {
  const { build } = await import('esbuild');
  const runner = fileURLToPath(new URL('./bundle-main.js', import.meta.url));
  const entry = `import * as siteModule from ${JSON.stringify(configPath)};
import { runBundledSite } from ${JSON.stringify(runner)};
await runBundledSite(__fettleSite, siteModule);
`;
  try {
    const result = await build({
      stdin: { contents: entry, resolveDir: siteDir, loader: 'js', sourcefile: 'fettle-site-bundle.js' },
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
      // Every builtin by name too: esbuild does not know all subpaths (readline/promises).
      external: ['esbuild', '*.node', 'cpu-features', ...builtinModules, ...builtinModules.map((name) => `node:${name}`)],
      banner: { js: banner(identity, files) },
      // Site modules find their folder (secrets, inventory) where the bundle unpacked it.
      define: {
        'import.meta.url': '__fettleSite.url',
        'import.meta.dirname': '__fettleSite.dir',
        'import.meta.filename': '__fettleSite.configPath',
      },
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error('esbuild wrote no output');
    return output.contents;
  } catch (error) {
    throw new FettleError('E_SITE', `cannot bundle the site: ${error instanceof Error ? error.message : String(error)}`, {
      where: path.relative(process.cwd(), configPath) || configPath,
    });
  }
}
