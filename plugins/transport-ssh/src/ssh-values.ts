import { expandTokens, localIdentity } from './tokens.js';
import { wildcardMatch } from './patterns.js';

/** What fettle asks about one host: the name, and the -l / -p / -J it would pass to ssh. */
export interface ResolveRequest {
  readonly host: string;
  readonly user?: string | undefined;
  readonly port?: number | undefined;
  /** Jump hosts imposed from outside (ssh's -J), which win over the host's own ProxyJump. */
  readonly proxyJump?: string | undefined;
}

/** The keywords fettle uses, in the order `fettle hosts --ssh` prints them (ssh -G's spelling). */
export const SSH_KEYWORDS = [
  'hostname',
  'port',
  'user',
  'identityfile',
  'identitiesonly',
  'identityagent',
  'certificatefile',
  'proxyjump',
  'proxycommand',
  'stricthostkeychecking',
  'userknownhostsfile',
  'globalknownhostsfile',
  'hostkeyalias',
  'connecttimeout',
  'serveraliveinterval',
  'serveralivecountmax',
  'hostkeyalgorithms',
  'hashknownhosts',
] as const;
export type SshKeyword = (typeof SSH_KEYWORDS)[number];

/** Effective settings of one host as `ssh -G` prints them: keyword → one value per line. */
export interface SshValues {
  readonly lines: Readonly<Partial<Record<SshKeyword, readonly string[]>>>;
  /** Things the resolver could not do (a `Match exec` the parser did not run). */
  readonly notes: readonly string[];
}

/** OpenSSH 9's default HostKeyAlgorithms (what `ssh -G` prints when none is configured). */
export const DEFAULT_HOST_KEY_ALGORITHMS: readonly string[] = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((name) => `~/.ssh/${name}`);

const first = (obtained: ReadonlyMap<string, readonly string[]>, keyword: string): string | undefined => obtained.get(keyword)?.[0];
const yesNo = (value: string | undefined): string => (value !== undefined && /^(yes|true)$/i.test(value) ? 'yes' : 'no');

/** Turn the values obtained from config files into what `ssh -G` prints (defaults filled in, tokens expanded where ssh expands them). */
export function finishSettings(original: string, obtained: ReadonlyMap<string, readonly string[]>, notes: readonly string[]): SshValues {
  const configuredName = first(obtained, 'hostname');
  const hostname = (configuredName === undefined ? original : configuredName.replace(/%%|%h/g, (token) => (token === '%h' ? original : '%'))).toLowerCase();
  const port = Number.parseInt(first(obtained, 'port') ?? '22', 10);
  const user = first(obtained, 'user') ?? localIdentity().user;
  const alias = first(obtained, 'hostkeyalias')?.toLowerCase();
  const tokens = { original, host: hostname, port, user, hostKeyAlias: alias, proxyJump: first(obtained, 'proxyjump') };
  const lines: Partial<Record<SshKeyword, string[]>> = {
    hostname: [hostname],
    port: [String(port)],
    user: [user],
    identityfile: [...(obtained.get('identityfile') ?? DEFAULT_IDENTITY_FILES)],
    identitiesonly: [yesNo(first(obtained, 'identitiesonly'))],
  };
  const agent = first(obtained, 'identityagent');
  if (agent !== undefined) lines.identityagent = [agent === 'none' || agent === 'SSH_AUTH_SOCK' || /^\$[A-Za-z_]/.test(agent) ? agent : expandTokens(agent, tokens)];
  const certificates = obtained.get('certificatefile');
  if (certificates) lines.certificatefile = [...certificates];
  const jump = first(obtained, 'proxyjump');
  if (jump !== undefined && jump !== 'none') lines.proxyjump = [jump];
  const command = first(obtained, 'proxycommand');
  if (command !== undefined && command !== 'none') lines.proxycommand = [command];
  lines.stricthostkeychecking = [strictness(first(obtained, 'stricthostkeychecking'))];
  const userFiles = obtained.get('userknownhostsfile');
  const home = localIdentity().home;
  lines.userknownhostsfile = [
    userFiles ? userFiles.map((file) => (file === 'none' ? file : expandTokens(file, tokens))).join(' ') : `${home}/.ssh/known_hosts ${home}/.ssh/known_hosts2`,
  ];
  lines.globalknownhostsfile = [obtained.get('globalknownhostsfile')?.join(' ') ?? '/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2'];
  if (alias !== undefined) lines.hostkeyalias = [alias];
  lines.connecttimeout = [first(obtained, 'connecttimeout') ?? 'none'];
  lines.serveraliveinterval = [first(obtained, 'serveraliveinterval') ?? '0'];
  lines.serveralivecountmax = [first(obtained, 'serveralivecountmax') ?? '3'];
  lines.hostkeyalgorithms = [hostKeyAlgorithms(first(obtained, 'hostkeyalgorithms')).join(',')];
  lines.hashknownhosts = [yesNo(first(obtained, 'hashknownhosts'))];
  return { lines, notes };
}

function strictness(value: string | undefined): string {
  switch (value?.toLowerCase()) {
    case 'yes':
    case 'true':
      return 'true';
    case 'no':
    case 'off':
    case 'false':
      return 'false';
    case 'accept-new':
      return 'accept-new';
    default:
      return 'ask';
  }
}

/** HostKeyAlgorithms with OpenSSH's `+` (append), `-` (remove, wildcards) and `^` (put first) forms. */
export function hostKeyAlgorithms(value: string | undefined): string[] {
  const defaults = [...DEFAULT_HOST_KEY_ALGORITHMS];
  if (value === undefined) return defaults;
  const list = value.slice(/^[+\-^]/.test(value) ? 1 : 0).split(',').filter((name) => name !== '');
  switch (value[0]) {
    case '+':
      return [...defaults, ...list.filter((name) => !defaults.includes(name))];
    case '-':
      return defaults.filter((name) => !list.some((pattern) => wildcardMatch(pattern, name)));
    case '^':
      return [...list, ...defaults.filter((name) => !list.includes(name))];
    default:
      return list;
  }
}

/** Read `ssh -G` output, keeping the keywords fettle uses. */
export function parseSshG(output: string): SshValues {
  const wanted = new Set<string>(SSH_KEYWORDS);
  const lines: Partial<Record<SshKeyword, string[]>> = {};
  for (const line of output.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const keyword = line.slice(0, space).toLowerCase();
    if (!wanted.has(keyword)) continue;
    (lines[keyword as SshKeyword] ??= []).push(line.slice(space + 1));
  }
  return { lines, notes: [] };
}

/** Settings as `keyword value` lines, in SSH_KEYWORDS order: what `fettle hosts --ssh` prints. */
export function formatSshValues(values: SshValues): string[] {
  return SSH_KEYWORDS.flatMap((keyword) => (values.lines[keyword] ?? []).map((value) => `${keyword} ${value}`));
}

/**
 * The files of a `userknownhostsfile` / `globalknownhostsfile` line. ssh -G joins them
 * with spaces, so a space is taken as a separator only before something that starts a
 * path (`/`, `~`, `%`, `$`): a quoted path with spaces in it stays whole.
 */
export function splitFileList(line: string | undefined): string[] {
  if (line === undefined || line === 'none') return [];
  return line.split(/ (?=[/~%$])/).filter((file) => file !== '' && file !== 'none');
}
