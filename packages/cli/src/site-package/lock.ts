import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FettleError } from '@fettle/core';

interface LockOwner {
  readonly pid: number;
  readonly since: string;
  readonly what: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The node's lock for pull: a folder made with mkdir (atomic), holding the owner's
 * pid. A lock whose owner is dead is taken over. When it is held, wait up to
 * `waitMs` (0: refuse at once) and then refuse, naming the holder. Returns the
 * release function.
 *
 * Until the engine has a host lock of its own, this is pull's: two pulls on one
 * node (the timer and a person) never apply at the same time.
 */
export async function takeLock(dir: string, what: string, waitMs: number): Promise<() => Promise<void>> {
  const ownerFile = path.join(dir, 'owner.json');
  const deadline = Date.now() + waitMs;
  await mkdir(path.dirname(dir), { recursive: true });
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(ownerFile, `${JSON.stringify({ pid: process.pid, since: new Date().toISOString(), what } satisfies LockOwner)}\n`);
      return () => rm(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readFile(ownerFile, 'utf8').then((text) => JSON.parse(text) as LockOwner).catch(() => undefined);
    if (owner && !alive(owner.pid)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new FettleError('E_COMMAND', `the node is locked${owner ? ` by ${owner.what} (pid ${owner.pid}) since ${owner.since}` : ''}; nothing applied`, {
        where: dir,
        hint: waitMs > 0 ? 'the other run is still going; try again later' : 'wait for it with --lock-wait SECONDS',
      });
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
  }
}
