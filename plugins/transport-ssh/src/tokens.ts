import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

export interface LocalIdentity {
  readonly user: string;
  readonly home: string;
  readonly uid: number;
}

let identity: LocalIdentity | undefined;

/**
 * The local user as OpenSSH sees it: the password database, not $HOME. Read once per
 * process (it cannot change under a running fettle), not once per host: each read is a
 * getpwuid and a new object, and a thousand hosts resolve several paths each.
 */
export function localIdentity(): LocalIdentity {
  if (!identity) {
    const info = os.userInfo();
    identity = Object.freeze({ user: info.username, home: info.homedir, uid: info.uid });
  }
  return identity;
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
