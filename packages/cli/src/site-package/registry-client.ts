import { createHash } from 'node:crypto';
import { FettleError } from '@fettle/core';
import type { RegistryAccess } from './npmrc.js';
import { compareVersions, parseVersion, satisfies } from './version.js';

/** One version of the site package, as the registry describes it. */
export interface Release {
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
  /** `sha512-…` (Subresource Integrity), from the registry's `dist.integrity`. */
  readonly integrity: string;
}

interface Packument {
  readonly 'dist-tags'?: Readonly<Record<string, string>>;
  readonly versions?: Readonly<Record<string, { readonly dist?: { readonly tarball?: string; readonly integrity?: string } }>>;
}

/** Counts of what a pull asked the registry, for the report and the bench. */
export interface RegistryTraffic {
  requests: number;
  bytes: number;
}

async function get(access: RegistryAccess, url: string, accept: string, traffic: RegistryTraffic): Promise<Buffer> {
  const headers: Record<string, string> = { accept };
  if (access.token) headers['authorization'] = `Bearer ${access.token}`;
  let response: Response;
  try {
    traffic.requests++;
    response = await fetch(url, { headers, signal: AbortSignal.timeout(120_000) });
  } catch (error) {
    throw new FettleError('E_TRANSPORT', `cannot reach the registry: ${error instanceof Error ? error.message : String(error)}`, { where: url });
  }
  const body = Buffer.from(await response.arrayBuffer());
  traffic.bytes += body.length;
  if (!response.ok) {
    throw new FettleError('E_TRANSPORT', `the registry answered HTTP ${response.status}`, {
      where: url,
      hint: response.status === 401 || response.status === 403 ? 'check the token for this registry in your .npmrc' : response.status === 404 ? 'is the site published? (fettle publish)' : undefined,
    });
  }
  return body;
}

/**
 * The version a spec names: a dist-tag (`latest` by default), an exact version,
 * or a range (the highest version in it). Reads the abbreviated metadata, the
 * smallest document the registry serves for a package.
 */
export async function resolveRelease(access: RegistryAccess, name: string, spec: string, traffic: RegistryTraffic): Promise<Release> {
  const url = `${access.url}${name.replace('/', '%2f')}`;
  const packument = JSON.parse((await get(access, url, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8', traffic)).toString('utf8')) as Packument;
  const versions = Object.keys(packument.versions ?? {});
  const tagged = packument['dist-tags']?.[spec];
  const version = tagged ?? (versions.includes(spec) ? spec : versions.filter((entry) => satisfies(entry, spec)).sort(compareVersions).at(-1));
  if (version === undefined || !parseVersion(version)) {
    throw new FettleError('E_ARGUMENT', `no version of ${name} matches '${spec}'`, {
      where: url,
      expected: `a dist-tag (${Object.keys(packument['dist-tags'] ?? {}).join(', ') || 'none'}), a version or a range over ${versions.length} published version${versions.length === 1 ? '' : 's'}`,
    });
  }
  const dist = packument.versions?.[version]?.dist;
  if (!dist?.tarball || !dist.integrity?.startsWith('sha512-')) {
    throw new FettleError('E_TRANSPORT', `the registry gives no tarball with a sha512 integrity for ${name}@${version}`, { where: url });
  }
  return { name, version, tarball: dist.tarball, integrity: dist.integrity };
}

/** Download a release's tarball and check it against its sha512 integrity; a mismatch is refused. */
export async function downloadRelease(access: RegistryAccess, release: Release, traffic: RegistryTraffic): Promise<Buffer> {
  const data = await get(access, release.tarball, 'application/octet-stream', traffic);
  const actual = `sha512-${createHash('sha512').update(data).digest('base64')}`;
  if (actual !== release.integrity) {
    throw new FettleError('E_TRANSPORT', `the tarball of ${release.name}@${release.version} fails its integrity check; refused, nothing installed`, {
      where: release.tarball,
      expected: `${release.integrity.slice(0, 30)}…, got ${actual.slice(0, 30)}…`,
      hint: 'the registry copy is corrupt or was tampered with: publish the version again, or pull another',
    });
  }
  return data;
}
