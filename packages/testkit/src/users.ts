import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { run, runOk, sleep } from './exec.js';

/** A throwaway local account made by {@link createTestUser}. Needs root. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** `userdel -r` (kills the user's leftover processes first); idempotent. */
  readonly remove: () => Promise<void>;
}

/** A user name, or anything carrying one (such as a {@link TestUser}). */
export type UserRef = string | { readonly name: string };

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const nameOf = (user: UserRef): string => (typeof user === 'string' ? user : user.name);

// Portable user-name rule (also keeps names safe inside file names and sudoers).
const SAFE_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

function checkUserName(name: string): void {
  if (!SAFE_USER_RE.test(name)) throw new Error(`unsupported user name: ${JSON.stringify(name)}`);
}

async function lookupUser(name: string): Promise<PasswdEntry> {
  checkUserName(name);
  const res = await run('getent', ['passwd', name]);
  const fields = res.stdout.trim().split(':');
  if (res.code !== 0 || fields.length < 7) throw new Error(`no such user: ${name}`);
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '' };
}

/**
 * Creates a unique non-root user `<prefix><6 hex>` with a home dir and /bin/sh.
 * The prefix is lowercased, stripped to [a-z0-9] and shortened so the random
 * suffix always survives the 31-character limit.
 */
export async function createTestUser(prefix: string): Promise<TestUser> {
  let clean = prefix.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (!/^[a-z]/.test(clean)) clean = `u${clean}`;
  const name = `${clean.slice(0, 25)}${randomBytes(3).toString('hex')}`;
  // -p '*': no usable password but *not locked*. useradd's default '!' is a locked
  // account, and sshd with UsePAM no refuses locked accounts even for key logins.
  await runOk('useradd', ['-m', '-s', '/bin/sh', '-p', '*', name]);
  const entry = await lookupUser(name);
  let removed = false;
  return {
    ...entry,
    remove: async () => {
      if (removed) return;
      // userdel refuses (exit 8) while the user still has processes, e.g. an sshd session tearing down.
      for (let attempt = 0; ; attempt++) {
        await run('pkill', ['-KILL', '-U', String(entry.uid)]).catch(() => undefined); // procps may be absent
        const res = await run('userdel', ['-r', name]);
        const stderr = res.stderr
          .split('\n')
          .filter((l) => l.trim() !== '' && !/mail spool .* not found/.test(l))
          .join('\n');
        if (res.code === 0 || (res.code === 12 && stderr === '')) break;
        if (res.code === 6) break; // user already gone
        if (res.code === 8 && attempt < 20) {
          await sleep(100);
          continue;
        }
        throw new Error(`userdel -r ${name} failed with exit code ${String(res.code)}: ${stderr}`);
      }
      removed = true;
    },
  };
}

/**
 * Lets `user` run anything through `sudo -n`: writes `/etc/sudoers.d/fettle-test-<user>`
 * (0440, checked with `visudo -cf` before it goes live). Resolves to a function that removes it.
 * `keepEnv` names variables sudo passes through for this user (e.g. `APT_CONFIG`).
 */
export async function grantNopasswdSudo(user: UserRef, options: { keepEnv?: readonly string[] } = {}): Promise<() => Promise<void>> {
  const name = nameOf(user);
  checkUserName(name);
  const keepEnv = options.keepEnv ?? [];
  const badVariable = keepEnv.find((variable) => !/^[A-Z_][A-Z0-9_]*$/.test(variable));
  if (badVariable !== undefined) throw new Error(`grantNopasswdSudo: not an environment variable name: ${JSON.stringify(badVariable)}`);
  const rules = [`${name} ALL=(ALL) NOPASSWD: ALL`, ...(keepEnv.length > 0 ? [`Defaults:${name} env_keep += "${keepEnv.join(' ')}"`] : [])];
  const file = `/etc/sudoers.d/fettle-test-${name}`;
  // Validate under a name containing '.', which sudo's @includedir ignores, then rename atomically:
  // a broken file in sudoers.d would break sudo for the whole machine.
  const tmp = `/etc/sudoers.d/.fettle-test-${name}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${rules.join('\n')}\n`, { mode: 0o440 });
  try {
    await chmod(tmp, 0o440);
    await runOk('visudo', ['-cf', tmp]);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return async () => {
    await rm(file, { force: true });
  };
}

/** Appends `publicKey` to `~user/.ssh/authorized_keys`, creating `.ssh` (0700) owned by the user. */
export async function authorizeKey(user: UserRef, publicKey: string): Promise<void> {
  const entry = await lookupUser(nameOf(user));
  const sshDir = join(entry.home, '.ssh');
  const file = join(sshDir, 'authorized_keys');
  await mkdir(sshDir, { recursive: true });
  await chmod(sshDir, 0o700);
  await chown(sshDir, entry.uid, entry.gid);
  await appendFile(file, `${publicKey.trim()}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  await chown(file, entry.uid, entry.gid);
}
