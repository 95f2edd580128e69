import type { Discovery } from './model.js';
import type { Probe } from './probe.js';
import { detectProvider } from './providers/index.js';
import type { PackageProvider } from './providers/types.js';

/** What discovery reports about a probed host, with the provider that applies. */
export function describeHost(probe: Probe, providers?: readonly PackageProvider[]): Discovery {
  const os = probe.kernelName.toLowerCase();
  const release = probe.osRelease;
  return {
    os,
    flavor: release['ID'] ?? (os === 'linux' ? null : os),
    // FreeBSD without os-release: the userland release is the kernel's (`14.1-RELEASE-p5`).
    version: release['VERSION_ID'] ?? (os === 'linux' ? null : probe.kernelRelease),
    name: release['PRETTY_NAME'] ?? release['NAME'] ?? null,
    kernel: probe.kernelRelease,
    arch: probe.machine,
    packageManager: detectProvider(probe, providers)?.name ?? null,
    uid: probe.uid,
    sudo: probe.commands.has('sudo'),
  };
}
