import { z } from '@fettle/core';

/**
 * `host.transportOptions` of the ssh transport. Options left out fall back to the
 * host's ssh_config (the way `ssh HOST` would), then to OpenSSH's defaults, so an
 * inventory only states what differs from the user's own ssh setup.
 */
// Explicit annotations (with z.core.$strict) keep the emitted .d.ts on `@fettle/core`'s `z`
// instead of a bare `zod` import, which this package does not depend on.
const sudoPasswordFromEnv: z.ZodObject<{ env: z.ZodString }, z.core.$strict> = z.strictObject({ env: z.string().min(1) });

const shape = {
  user: z.string().min(1).optional().describe('login user; else host.user, ssh_config User, then the local user'),
  port: z.number().int().min(1).max(65535).optional().describe('port; else host.port, ssh_config Port, then 22'),
  knownHosts: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe('known_hosts file(s); the first one is written by accept-new. Default: ssh_config UserKnownHostsFile and GlobalKnownHostsFile, else ~/.ssh/known_hosts, known_hosts2 and /etc/ssh/ssh_known_hosts, ssh_known_hosts2'),
  hostKeyPolicy: z
    .enum(['strict', 'accept-new', 'off'])
    .optional()
    .describe(
      'strict: unknown or changed keys are refused; accept-new: unknown hosts are recorded, changed keys refused; off: no check (warns every run). Default: ssh_config StrictHostKeyChecking (yes/ask: strict, accept-new, no: off)',
    ),
  identityFile: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .optional()
    .describe('private key file(s) (ed25519, ecdsa, rsa); else ssh_config IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa'),
  agent: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('ssh-agent socket, or false for none; else ssh_config IdentityAgent, else $SSH_AUTH_SOCK'),
  sshConfig: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('ssh_config file to read (relative to the site; ssh -F); false ignores every config. Default: what ssh reads, ~/.ssh/config then /etc/ssh/ssh_config'),
  connectTimeoutMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('TCP connect + handshake + authentication deadline per hop; else ssh_config ConnectTimeout, else 10000'),
  serverAliveInterval: z
    .number()
    .positive()
    .optional()
    .describe('seconds between keepalive probes of a silent server (OpenSSH ServerAliveInterval); default 15. 0 is not allowed: a dead peer must be noticed'),
  serverAliveCountMax: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('default 3; unanswered keepalives before the connection counts as lost (OpenSSH ServerAliveCountMax): lost within interval × (count + 1) seconds'),
  commandTimeoutMs: z.number().int().positive().optional().describe('kill a command (its channel) after this long; default none'),
  become: z.enum(['sudo', 'doas']).optional().describe('run commands and file operations as becomeUser'),
  becomeUser: z.string().min(1).default('root'),
  sudoPassword: z
    .union([z.literal('none'), z.literal('prompt'), sudoPasswordFromEnv])
    .default('none')
    .describe("none: sudo -n; prompt: ask once per run on a TTY; {env: NAME}: read it from an environment variable. Kept in memory only"),
  proxyJump: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('[user@]host[:port][,…] jump hosts, each resolved through ssh_config; false ignores ssh_config ProxyJump'),
  root: z
    .string()
    .startsWith('/', 'root must be an absolute path on the host')
    .default('/')
    .describe('prefix for every item path (a sandbox folder in tests and demos)'),
  maxChannels: z
    .number()
    .int()
    .min(2)
    .max(64)
    .default(4)
    .describe('channels open at once on the connection (the SFTP session takes one); keep below the server MaxSessions (10)'),
};

export const sshOptionsSchema: z.ZodObject<typeof shape, z.core.$strict> = z.strictObject(shape);

export type SshOptions = z.output<typeof sshOptionsSchema>;
export type SshOptionsInput = z.input<typeof sshOptionsSchema>;
