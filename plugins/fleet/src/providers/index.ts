import type { Probe } from '../probe.js';
import { apkProvider } from './apk.js';
import { aptProvider } from './apt.js';
import { dnfProvider, yumProvider } from './dnf.js';
import { pacmanProvider } from './pacman.js';
import { pkgProvider } from './pkg.js';
import type { PackageProvider } from './types.js';

/** Built-in providers, in the order they are asked: the first whose detect() says yes applies. */
export const defaultProviders: readonly PackageProvider[] = [aptProvider, dnfProvider, yumProvider, apkProvider, pacmanProvider, pkgProvider];

export function detectProvider(probe: Probe, providers: readonly PackageProvider[] = defaultProviders): PackageProvider | undefined {
  return providers.find((provider) => provider.detect(probe));
}

export function providerNamed(name: string | null, providers: readonly PackageProvider[] = defaultProviders): PackageProvider | undefined {
  return name === null ? undefined : providers.find((provider) => provider.name === name);
}
