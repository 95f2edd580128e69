import { z } from '@fettle/core';

/**
 * `host.transportOptions` of the openssh transport. Everything left out is what the
 * user's own `ssh HOST` would do: ssh reads ssh_config itself.
 */
// Explicit annotations (with z.core.$strict) keep the emitted .d.ts on `@fettle/core`'s `z`.
const sudoPasswordFromEnv: z.ZodObject<{ env: z.ZodString }, z.core.$strict> = z.strictObject({ env: z.string().min(1) });

const shape = {
  user: z.string().min(1).optional().describe('login user (ssh -l); else host.user, else ssh_config'),
  port: z.number().int().min(1).max(65535).optional().describe('port (ssh -p); else host.port, else ssh_config'),
  sshConfig: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('ssh_config file (ssh -F, relative to the site); false: none. Default: what ssh reads'),
  identityFile: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .optional()
    .describe('private key file(s) (ssh -i, with IdentitiesOnly); else ssh_config'),
  knownHosts: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .describe('known_hosts file(s) (UserKnownHostsFile; GlobalKnownHostsFile none); else ssh_config'),
  hostKeyPolicy: z
    .enum(['strict', 'accept-new', 'off'])
    .optional()
    .describe('StrictHostKeyChecking yes / accept-new / no; else ssh_config (whose ask refuses in a run: BatchMode)'),
  agent: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('IdentityAgent socket, or false for none; else ssh_config'),
  proxyJump: z
    .union([z.string().min(1), z.literal(false)])
    .optional()
    .describe('ssh -J [user@]host[:port][,…]; false: none, whatever ssh_config says'),
  connectTimeoutMs: z.number().int().positive().optional().describe('connect + authentication deadline; else ssh_config ConnectTimeout, else 10000'),
  commandTimeoutMs: z.number().int().positive().optional().describe('kill a command after this long; default none'),
  sshOptions: z.record(z.string().regex(/^[A-Za-z]+$/), z.string()).optional().describe('more ssh -o Keyword=value settings'),
  become: z.enum(['sudo', 'doas']).optional().describe('run commands and file operations as becomeUser'),
  becomeUser: z.string().min(1).default('root'),
  sudoPassword: z
    .union([z.literal('none'), z.literal('prompt'), sudoPasswordFromEnv])
    .default('none')
    .describe("none: sudo -n; prompt: ask once per run on a TTY; {env: NAME}: read it from an environment variable. Kept in memory only"),
  root: z.string().startsWith('/', 'root must be an absolute path on the host').default('/').describe('prefix for every item path'),
  maxSessions: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('commands running at once over the master connection; keep below the server MaxSessions (10)'),
};

export const opensshOptionsSchema: z.ZodObject<typeof shape, z.core.$strict> = z.strictObject(shape);

export type OpensshOptions = z.output<typeof opensshOptionsSchema>;
export type OpensshOptionsInput = z.input<typeof opensshOptionsSchema>;
