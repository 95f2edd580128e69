import { describe, expect, it } from 'vitest';
import { describeHost } from './discovery.js';
import { parseOsRelease, parseProbe, type Probe } from './probe.js';
import { parseAptSimulation, aptProvider } from './providers/apt.js';
import { apkProvider, parseApkVersion } from './providers/apk.js';
import { dnfProvider, dnfUpdates, parseDnfCheckUpdate, parseDnfSecurity, parseNeedsRestarting, yumProvider } from './providers/dnf.js';
import { detectProvider } from './providers/index.js';
import { pacmanProvider, parseArchAudit, parsePacmanUpdates } from './providers/pacman.js';
import { parseFreebsdReboot, parsePkgAudit, parsePkgVersion, pkgProvider } from './providers/pkg.js';
import type { SectionResult } from './script.js';
import { fixture } from './test-helpers.js';

const ok = (stdout: string, code = 0, stderr = ''): SectionResult => ({ stdout, stderr, code, skipped: false });

function probe(osRelease: string, commands: string[], kernelName = 'Linux', kernelRelease = '6.1.0-18-amd64'): Probe {
  return { kernelName, kernelRelease, machine: 'x86_64', osRelease: parseOsRelease(osRelease), commands: new Set(commands), uid: 0 };
}

describe('apt (recorded on this Debian 12 machine, and an Ubuntu 22.04 run)', () => {
  it('parses Inst lines, with security from the -security suite', () => {
    const updates = parseAptSimulation(fixture('apt/debian12-dist-upgrade.txt'));
    expect(updates).toHaveLength(135);
    expect(updates.filter((u) => u.security)).toHaveLength(81);
    expect(updates.find((u) => u.name === 'libssl3')).toEqual({
      name: 'libssl3',
      arch: 'amd64',
      currentVersion: '3.0.19-1~deb12u2',
      newVersion: '3.0.22-1~deb12u2',
      source: 'Debian-Security:12/oldstable-security',
      security: true,
    });
    // In both the point release and the security suite: security, and the source says so.
    expect(updates.find((u) => u.name === 'libgcrypt20')).toMatchObject({ security: true, source: 'Debian-Security:12/oldstable-security' });
    expect(updates.find((u) => u.name === 'bash')).toMatchObject({ security: false, source: 'Debian:12.15/oldstable', currentVersion: '5.2.15-2+b8' });
    // `Conf` lines repeat the Inst ones and are not counted twice.
    expect(new Set(updates.map((u) => u.name)).size).toBe(updates.length);
  });

  it('reads Ubuntu security and ESM suites and new packages (no installed version)', () => {
    const updates = parseAptSimulation(fixture('apt/ubuntu2204-dist-upgrade.txt'));
    expect(updates).toHaveLength(12);
    expect(updates.find((u) => u.name === 'linux-image-5.15.0-91-generic')).toMatchObject({ currentVersion: null, security: true, arch: 'amd64' });
    expect(updates.find((u) => u.name === 'python3-urllib3')).toMatchObject({ security: true, source: 'UbuntuESMApps:22.04/jammy-apps-security' });
    expect(updates.filter((u) => !u.security).map((u) => u.name)).toEqual(['snapd', 'tzdata']);
  });

  it('reads the reboot flag and fails loudly when apt-get fails', () => {
    const parsed = aptProvider.parseUpdates(new Map([['upgrades', ok(fixture('apt/ubuntu2204-dist-upgrade.txt'))], ['reboot', ok('yes')]]));
    expect(parsed).toMatchObject({ rebootRequired: true, securityChecked: true });
    expect(() => aptProvider.parseUpdates(new Map([['upgrades', ok('', 100, 'E: Could not open lock file')]]))).toThrow(/upgrades exited with 100: E: Could not open lock file/);
  });
});

describe('dnf and yum', () => {
  it('parses check-update, wrapped long names included, obsoletes left out', () => {
    const rows = parseDnfCheckUpdate(fixture('dnf/check-update.txt'));
    expect(rows.map((r) => r.nameArch)).toEqual([
      'NetworkManager.x86_64',
      'curl.x86_64',
      'kernel.x86_64',
      'kernel-core.x86_64',
      'openssl-libs.x86_64',
      'python3-setuptools-wheel-with-a-very-long-name.noarch',
      'tzdata.noarch',
    ]);
    expect(rows[5]).toEqual({ nameArch: 'python3-setuptools-wheel-with-a-very-long-name.noarch', version: '53.0.0-12.el9_3', repo: 'appstream' });
  });

  it('marks security updates from updateinfo and fills installed versions from rpm', () => {
    expect([...parseDnfSecurity(fixture('dnf/updateinfo-security.txt'))]).toContain('openssl-libs');
    const updates = dnfUpdates(fixture('dnf/check-update.txt'), fixture('dnf/updateinfo-security.txt'), fixture('dnf/rpm-installed.txt'));
    expect(updates.filter((u) => u.security).map((u) => u.name)).toEqual(['curl', 'kernel', 'kernel-core', 'openssl-libs']);
    expect(updates.find((u) => u.name === 'openssl-libs')).toEqual({
      name: 'openssl-libs',
      arch: 'x86_64',
      currentVersion: '1:3.0.7-24.el9',
      newVersion: '1:3.0.7-25.el9_3',
      source: 'baseos',
      security: true,
    });
    // Slotted kernel: the newest installed one is the current version.
    expect(updates.find((u) => u.name === 'kernel')?.currentVersion).toBe('5.14.0-362.8.1.el9_3');
  });

  it('treats exit 100 as "updates available", reads needs-restarting, and warns when updateinfo fails', () => {
    const parsed = dnfProvider.parseUpdates(
      new Map([
        ['check', ok(fixture('dnf/check-update.txt'), 100)],
        ['security', ok('', 1, 'Error: updateinfo unavailable')],
        ['installed', ok(fixture('dnf/rpm-installed.txt'))],
        ['reboot', ok(fixture('dnf/needs-restarting-yes.txt'), 1)],
      ]),
    );
    expect(parsed.packages).toHaveLength(7);
    expect(parsed).toMatchObject({ rebootRequired: true, securityChecked: false });
    expect(parsed.warnings[0]).toMatch(/updateinfo failed/);
    expect(parseNeedsRestarting(ok(fixture('dnf/needs-restarting-no.txt')))).toBe(false);
    expect(parseNeedsRestarting(ok('', 127, 'needs-restarting: not found'))).toBeNull();
    expect(() => dnfProvider.parseUpdates(new Map([['check', ok('', 1, 'Error: Failed to download metadata for repo')], ['installed', ok('')]]))).toThrow(
      /check exited with 1/,
    );
  });
});

describe('apk, pacman and FreeBSD pkg', () => {
  it('apk: splits name and version at the version, security unknown', () => {
    const updates = parseApkVersion(fixture('apk/version.txt'));
    expect(updates.map((u) => `${u.name} ${u.currentVersion} ${u.newVersion}`)).toEqual([
      'busybox 1.36.1-r2 1.36.1-r5',
      'busybox-binsh 1.36.1-r2 1.36.1-r5',
      'libcrypto3 3.1.4-r1 3.1.4-r5',
      'libssl3 3.1.4-r1 3.1.4-r5',
      'py3-setuptools 68.2.2-r0 70.3.0-r0',
      'ssl_client 1.36.1-r2 1.36.1-r5',
    ]);
    expect(apkProvider.parseUpdates(new Map([['upgrades', ok(fixture('apk/version.txt'))], ['reboot', ok('no')]]))).toMatchObject({
      securityChecked: false,
      rebootRequired: false,
    });
  });

  it('pacman: checkupdates with arch-audit marks security; pacman -Qu warns it may be stale', () => {
    const vulnerable = parseArchAudit(fixture('pacman/arch-audit.txt'));
    expect(parseArchAudit('curl>=8.6.0-1\n')).toEqual(new Set(['curl']));
    const updates = parsePacmanUpdates(fixture('pacman/checkupdates.txt'), vulnerable);
    expect(updates).toHaveLength(5);
    expect(updates.filter((u) => u.security).map((u) => u.name)).toEqual(['curl', 'openssh']);
    expect(updates[1]).toMatchObject({ name: 'linux', currentVersion: '6.6.10.arch1-1', newVersion: '6.7.4.arch1-1' });
    const qu = pacmanProvider.parseUpdates(
      new Map([
        ['upgrades', ok(fixture('pacman/pacman-qu.txt'))],
        ['audit', ok('no-arch-audit')],
        ['reboot', ok('yes')],
      ]),
    );
    expect(qu.packages.map((u) => u.name)).toEqual(['linux', 'nvidia']);
    expect(qu).toMatchObject({ securityChecked: false, rebootRequired: true });
    expect(qu.warnings[0]).toMatch(/pacman -Qu/);
  });

  it('pkg: only "needs updating" lines, security from pkg audit, reboot from freebsd-version', () => {
    const vulnerable = parsePkgAudit(fixture('pkg/audit.txt'));
    const updates = parsePkgVersion(fixture('pkg/version.txt'), vulnerable);
    expect(updates.map((u) => [u.name, u.currentVersion, u.newVersion, u.security])).toEqual([
      ['ca_root_nss', '3.93', '3.95', false],
      ['curl', '8.4.0', '8.5.0', true],
      ['libssh2', '1.11.0,3', '1.11.0_1,3', true],
      ['py39-urllib3', '1.26.16,1', '1.26.18,1', false],
    ]);
    expect(parseFreebsdReboot(ok('14.0-RELEASE-p4\n14.0-RELEASE-p2\n'))).toBe(true);
    expect(parseFreebsdReboot(ok('14.0-RELEASE-p4\n14.0-RELEASE-p4\n'))).toBe(false);
    // A missing vuln.xml: updates still listed, security reported as unknown with a hint.
    const parsed = pkgProvider.parseUpdates(
      new Map([
        ['upgrades', ok(fixture('pkg/version.txt'))],
        ['audit', ok('', 1, "pkg: vulnxml file /var/db/pkg/vuln.xml does not exist. Try running 'pkg audit -F' first")],
      ]),
    );
    expect(parsed).toMatchObject({ securityChecked: false });
    expect(parsed.packages.some((u) => u.security)).toBe(false);
    expect(parsed.warnings[0]).toMatch(/sync-repos fetches vuln.xml/);
  });
});

describe('discovery and provider detection', () => {
  it.each([
    ['debian12', ['apt-get', 'sudo'], 'apt', 'debian', '12'],
    ['ubuntu2204', ['apt-get'], 'apt', 'ubuntu', '22.04'],
    ['rocky9', ['dnf', 'yum'], 'dnf', 'rocky', '9.3'],
    ['centos7', ['yum'], 'yum', 'centos', '7'],
    ['alpine319', ['apk'], 'apk', 'alpine', '3.19.1'],
    ['arch', ['pacman'], 'pacman', 'arch', null],
  ])('%s → %s', (file, commands, manager, flavor, version) => {
    const d = describeHost(probe(fixture(`os-release/${file}.txt`), commands));
    expect(d).toMatchObject({ os: 'linux', packageManager: manager, flavor, version, arch: 'x86_64' });
  });

  it('FreeBSD uses pkg only on FreeBSD, and no provider means null', () => {
    const bsd = describeHost(probe(fixture('os-release/freebsd14.txt'), ['pkg'], 'FreeBSD', '14.0-RELEASE-p4'));
    expect(bsd).toMatchObject({ os: 'freebsd', flavor: 'freebsd', version: '14.0', packageManager: 'pkg', name: 'FreeBSD 14.0-RELEASE-p4' });
    expect(detectProvider(probe('ID=weird', ['pkg']))).toBeUndefined();
    const bare = describeHost(probe('', [], 'FreeBSD', '13.2-RELEASE'));
    expect(bare).toMatchObject({ flavor: 'freebsd', version: '13.2-RELEASE', packageManager: null, sudo: false });
    expect(yumProvider.detect(probe('', ['dnf', 'yum']))).toBe(false);
  });

  it('parses the probe sections and rejects an unusable answer', () => {
    const sections = new Map([
      ['uname', ok('Linux\n6.1.0-18-amd64\naarch64')],
      ['os-release', ok(fixture('os-release/debian12.txt'))],
      ['commands', ok('/usr/bin/apt-get\n/usr/bin/sudo')],
      ['id', ok('1000')],
    ]);
    expect(parseProbe(sections)).toMatchObject({ kernelName: 'Linux', machine: 'aarch64', uid: 1000, commands: new Set(['apt-get', 'sudo']) });
    expect(() => parseProbe(new Map([['uname', ok('', 127, 'uname: not found')]]))).toThrow(/uname gave no answer \(uname: not found\)/);
    expect(parseOsRelease('PRETTY_NAME="A \\"quoted\\" name"\n# comment\nID=x')).toEqual({ PRETTY_NAME: 'A "quoted" name', ID: 'x' });
  });
});
