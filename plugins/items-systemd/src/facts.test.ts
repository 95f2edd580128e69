import { readFileSync } from 'node:fs';
import { factEnv } from '@fettle/core';
import { describe, expect, it } from 'vitest';
import { parseUnitStatus, svcSystemdItem, unitStatus, unitStatusCommand } from './index.js';
import { isEnabled, isMasked, isRunning } from './facts.js';
import { unitCommands as unitShells } from './svc-systemd.js';

const unitCommands = (...args: Parameters<typeof unitShells>) => unitShells(...args).map((command) => command.text);

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const UNITS = ['nginx', 'sshd', 'fettle-nosuch', 'apache2', 'systemd-journald', 'rsync', 'postgresql@15-main', 'php8.2-fpm', 'fstrim.timer'];

describe('systemd.unit-status fact', () => {
  it('asks about every unit in one systemctl show', () => {
    expect(unitStatusCommand(['nginx', 'getty@tty1.service', 'fstrim.timer']).text).toBe(
      'systemctl show -p Id,ActiveState,UnitFileState,LoadState -- nginx getty@tty1.service fstrim.timer',
    );
    expect(unitStatus.command(['a', 'b'], factEnv()).text).toBe(unitStatusCommand(['a', 'b']).text);
  });

  it('refuses what is not a unit name', () => {
    expect(() => unitStatusCommand(['nginx; reboot'])).toThrow(/not a unit name/);
    expect(() => unitStatusCommand(['ng inx'])).toThrow(/not a unit name/);
  });

  it('parses the blocks of a recorded output in the order asked', () => {
    const statuses = parseUnitStatus(fixture('show-bookworm.txt'), UNITS);
    const summary = statuses.map((s) => [s.id, s.loadState === 'not-found' ? 'absent' : `${isEnabled(s) ? 'enabled' : 'disabled'}/${isRunning(s) ? 'running' : 'stopped'}${isMasked(s) ? '/masked' : ''}`]);
    expect(summary).toEqual([
      ['nginx.service', 'enabled/running'],
      ['ssh.service', 'enabled/running'],
      ['fettle-nosuch.service', 'absent'],
      ['apache2.service', 'disabled/stopped/masked'],
      ['systemd-journald.service', 'enabled/running'],
      ['rsync.service', 'disabled/stopped'],
      ['postgresql@15-main.service', 'enabled/stopped'],
      ['php8.2-fpm.service', 'enabled/running'],
      ['fstrim.timer', 'enabled/running'],
    ]);
  });

  it('does not care about property order, and fails when a unit is missing from the output', () => {
    const reordered = 'UnitFileState=disabled\nActiveState=inactive\nLoadState=loaded\nId=a.service\n\n\nLoadState=loaded\nId=b.service\nActiveState=active\nUnitFileState=enabled\n';
    expect(parseUnitStatus(reordered, ['a', 'b'])).toEqual([
      { id: 'a.service', loadState: 'loaded', activeState: 'inactive', unitFileState: 'disabled' },
      { id: 'b.service', loadState: 'loaded', activeState: 'active', unitFileState: 'enabled' },
    ]);
    expect(() => parseUnitStatus(fixture('show-bookworm.txt'), ['nginx'])).toThrow(/expected 1 unit blocks from systemctl show, got 9/);
    expect(() => parseUnitStatus('', ['nginx'])).toThrow(/expected 1 unit blocks/);
  });
});

describe('svc_systemd commands', () => {
  const change = (cdict: Record<string, boolean>, sdict: Record<string, boolean> | null) => ({
    cdict,
    sdict,
    keys: sdict === null ? Object.keys(cdict) : Object.keys(cdict).filter((key) => cdict[key] !== sdict[key]),
  });

  it('unmasks before enabling and starting', () => {
    expect(unitCommands('nginx', change({ masked: false, enabled: true, running: true }, { masked: true, enabled: false, running: false }))).toEqual([
      'systemctl unmask nginx',
      'systemctl enable nginx',
      'systemctl start nginx',
    ]);
  });

  it('stops before masking, and touches only what differs', () => {
    expect(unitCommands('apache2', change({ masked: true, running: false, enabled: false }, { masked: false, running: true, enabled: false }))).toEqual([
      'systemctl stop apache2',
      'systemctl mask apache2',
    ]);
    expect(unitCommands('cron', change({ enabled: true, running: true }, { enabled: true, running: false }))).toEqual(['systemctl start cron']);
  });

  it('quotes template instances and rejects contradictory attributes', () => {
    expect(unitCommands('getty@tty1', change({ running: true }, { running: false }))).toEqual(['systemctl start getty@tty1']);
    expect(svcSystemdItem.attributes.safeParse({ masked: true, running: true }).success).toBe(false);
    expect(svcSystemdItem.validateName?.('nginx$(reboot)')).toMatch(/unit name/);
  });

  it('needs the package of the same name', () => {
    const attrs = svcSystemdItem.attributes.parse({ running: true });
    expect(svcSystemdItem.implicitNeeds?.({ id: 'svc_systemd:nginx.service', name: 'nginx.service', attrs })).toEqual(['pkg_apt:nginx', 'svc_systemd_daemon_reload:nginx.service']);
  });
});
