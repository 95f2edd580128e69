import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** The local user as OpenSSH sees it: the password database, not $HOME. */
export function localIdentity(): { user: string; home: string; uid: number } {
  const info = os.userInfo();
  return { user: info.username, home: info.homedir, uid: info.uid };
}

/** What `%` tokens stand for in one host's settings. */
export interface TokenValues {
  /** %n: the name as typed. */
  readonly original: string;
  /** %h: the resolved HostName. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** %k: HostKeyAlias, else the host name. */
  readonly hostKeyAlias?: string | undefined;
  /** %j: ProxyJump, else empty. */
  readonly proxyJump?: string | undefined;
}

/**
 * Expand `~`, `${ENV}` and OpenSSH's `%` tokens (%% %C %d %h %i %j %k %L %l %n %p %r %u),
 * as ssh does for IdentityFile, CertificateFile, IdentityAgent and UserKnownHostsFile.
 */
export function expandTokens(value: string, tokens: TokenValues): string {
  const local = localIdentity();
  const fqdn = os.hostname();
  const table: Record<string, () => string> = {
    '%': () => '%',
    C: () => createHash('sha1').update(`${fqdn}${tokens.host}${tokens.port}${tokens.user}`).digest('hex'),
    d: () => local.home,
    h: () => tokens.host,
    i: () => String(local.uid),
    j: () => tokens.proxyJump ?? '',
    k: () => tokens.hostKeyAlias ?? tokens.host,
    L: () => fqdn.split('.')[0] ?? fqdn,
    l: () => fqdn,
    n: () => tokens.original,
    p: () => String(tokens.port),
    r: () => tokens.user,
    u: () => local.user,
  };
  const home = value === '~' ? local.home : value.startsWith('~/') ? path.join(local.home, value.slice(2)) : value;
  return home
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => process.env[name] ?? '')
    .replace(/%(.)/g, (all, token: string) => table[token]?.() ?? all);
}
