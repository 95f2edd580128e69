import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FettleError } from '@fettle/core';

/** A site's own package.json, as far as building it needs. */
export interface SitePackageJson {
  readonly name?: string | undefined;
  readonly version?: string | undefined;
  readonly dependencies?: Readonly<Record<string, string>> | undefined;
  readonly [key: string]: unknown;
}

export function readSitePackageJson(siteDir: string): SitePackageJson {
  const file = path.join(siteDir, 'package.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SitePackageJson;
  } catch (error) {
    throw new FettleError('E_SITE', `cannot read the site's package.json: ${error instanceof Error ? error.message : String(error)}`, { where: file });
  }
}

/** npm's semver, without build metadata (npm drops it): `1.0.1733012345`, `2.1.0-rc.1`. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/;

export function parseVersion(version: string): [number, number, number] | undefined {
  const match = SEMVER.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` (prereleases ignored). */
export function compareVersions(a: string, b: string): number {
  const left = parseVersion(a) ?? [0, 0, 0];
  const right = parseVersion(b) ?? [0, 0, 0];
  return left[0] - right[0] || left[1] - right[1] || left[2] - right[2];
}

/** What a site's own `mintVersion()` export is called with. */
export interface MintContext {
  readonly name: string;
  /** The version in the site's package.json, if any. */
  readonly packageVersion: string | undefined;
  /** The version of the previous build in the output folder, if any. */
  readonly previous: string | undefined;
}

/**
 * progfiguration's default: `major.minor.epoch`, major and minor from the site's
 * package.json (`1.0` without one), the patch the Unix time in seconds. Two builds
 * in one second still get increasing versions: the patch is at least the previous
 * build's plus one.
 */
export function mintEpochVersion(context: MintContext, now = Date.now()): string {
  const [major, minor] = parseVersion(context.packageVersion ?? '') ?? [1, 0];
  let patch = Math.floor(now / 1000);
  const previous = context.previous === undefined ? undefined : parseVersion(context.previous);
  if (previous && previous[0] === major && previous[1] === minor && previous[2] >= patch) patch = previous[2] + 1;
  return `${major}.${minor}.${patch}`;
}

/** The version of this build: the site's `export function mintVersion()` if it has one, else `major.minor.epoch`. */
export async function mintVersion(exports: Readonly<Record<string, unknown>>, context: MintContext, configPath: string): Promise<string> {
  const custom = exports['mintVersion'];
  if (custom === undefined) return mintEpochVersion(context);
  if (typeof custom !== 'function') {
    throw new FettleError('E_SITE', 'the export mintVersion is not a function', { where: configPath, expected: 'export function mintVersion(): string' });
  }
  const minted: unknown = await (custom as (context: MintContext) => unknown)(context);
  if (typeof minted !== 'string' || !parseVersion(minted)) {
    throw new FettleError('E_SITE', `mintVersion() returned ${JSON.stringify(minted)}, which is not a version npm accepts`, {
      where: configPath,
      expected: 'a semver string such as 1.4.0 or 2.0.1733012345',
    });
  }
  return minted;
}

/** One comparator of a range: `>=1.2.3`, `<2.0.0`. */
type Comparator = readonly ['>=' | '>' | '<=' | '<' | '=', [number, number, number]];

/** `1`, `1.2`, `1.2.x`, `*` as their lower bound and the number of parts given. */
function partial(text: string): { parts: [number, number, number]; given: number } {
  const fields = text.split('.').filter((field) => field !== '' && !/^[x*X]$/.test(field));
  const numbers = fields.map(Number);
  return { parts: [numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0], given: fields.length };
}

function comparators(term: string): Comparator[] {
  const match = /^(\^|~|>=|<=|>|<|=)?v?(.*)$/.exec(term);
  const operator = match?.[1] ?? '';
  const { parts, given } = partial(match?.[2] ?? '');
  const [major, minor, patch] = parts;
  if (operator === '>=' || operator === '>' || operator === '<=' || operator === '<') return [[operator, parts]];
  if (operator === '^') {
    const upper: [number, number, number] = major > 0 || given === 1 ? [major + 1, 0, 0] : minor > 0 || given === 2 ? [0, minor + 1, 0] : [0, 0, patch + 1];
    return [['>=', parts], ['<', upper]];
  }
  if (operator === '~') return [['>=', parts], ['<', given === 1 ? [major + 1, 0, 0] : [major, minor + 1, 0]]];
  if (given === 3) return [['=', parts]];
  if (given === 0) return [];
  return [['>=', parts], ['<', given === 1 ? [major + 1, 0, 0] : [major, minor + 1, 0]]];
}

/**
 * Whether a version is in an npm range — the common forms: exact, `1.x`, `1.2`,
 * `*`, `^`, `~`, `>=`/`<` comparators joined by spaces, and `||`. Prereleases match
 * only an exact spec.
 */
export function satisfies(version: string, range: string): boolean {
  const parsed = parseVersion(version);
  if (!parsed) return false;
  if (version.includes('-')) return range.trim() === version;
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .flatMap(comparators)
      .every(([operator, bound]) => {
        const order = compareVersions(version, bound.join('.'));
        return operator === '>=' ? order >= 0 : operator === '>' ? order > 0 : operator === '<=' ? order <= 0 : operator === '<' ? order < 0 : order === 0;
      }),
  );
}
