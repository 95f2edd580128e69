import { FettleError, shellQuote, type ExecResult } from '@fettle/core';

const NAME_RE = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;
const NUMERIC_RE = /^\d+$/;

/** Prints one id per argument (`u:NAME` or `g:NAME`), `?` when unknown. */
const LOOKUP_SCRIPT =
  'for n in "$@"; do case $n in ' +
  'u:*) v=$(id -u -- "${n#u:}" 2>/dev/null);; ' +
  'g:*) v=$({ getent group "${n#g:}" || grep "^${n#g:}:" /etc/group; } 2>/dev/null | head -n 1 | cut -d: -f3);; ' +
  'esac; echo "${v:-?}"; done';

/**
 * Owner and group names → numeric ids on the host (SFTP's fchown takes numbers).
 * Names asked for in the same tick share ONE remote command; answers are cached
 * for the life of the connection.
 */
export class IdResolver {
  readonly #run: (command: string) => Promise<ExecResult>;
  readonly #where: string;
  readonly #cache = new Map<string, Promise<number>>();
  #batch: Map<string, { resolve(id: number): void; reject(error: unknown): void }> | undefined;

  constructor(run: (command: string) => Promise<ExecResult>, hostName: string) {
    this.#run = run;
    this.#where = `host ${hostName}`;
  }

  async resolve(owner: string | undefined, group: string | undefined): Promise<{ uid: number | undefined; gid: number | undefined }> {
    const [uid, gid] = await Promise.all([
      owner === undefined ? undefined : this.#lookup('u', owner),
      group === undefined ? undefined : this.#lookup('g', group),
    ]);
    return { uid, gid };
  }

  #lookup(kind: 'u' | 'g', name: string): Promise<number> {
    if (NUMERIC_RE.test(name)) return Promise.resolve(Number(name));
    const what = kind === 'u' ? 'user' : 'group';
    if (!NAME_RE.test(name)) return Promise.reject(new FettleError('E_ATTRIBUTE', `invalid ${what} name ${JSON.stringify(name)}`, { where: this.#where }));
    const key = `${kind}:${name}`;
    let cached = this.#cache.get(key);
    if (!cached) {
      cached = new Promise<number>((resolve, reject) => {
        if (!this.#batch) {
          this.#batch = new Map();
          setImmediate(() => void this.#flush());
        }
        this.#batch.set(key, { resolve, reject });
      });
      // A failed lookup (connection trouble) may be retried later; a missing name is not cached either.
      cached.catch(() => this.#cache.delete(key));
      this.#cache.set(key, cached);
    }
    return cached;
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = undefined;
    if (!batch) return;
    const keys = [...batch.keys()];
    try {
      const result = await this.#run(`sh -c ${shellQuote(LOOKUP_SCRIPT)} sh ${keys.map(shellQuote).join(' ')}`);
      const lines = result.stdout.toString('utf8').split('\n');
      keys.forEach((key, index) => {
        const waiter = batch.get(key);
        const value = lines[index]?.trim();
        if (value && NUMERIC_RE.test(value)) return waiter?.resolve(Number(value));
        const [kind, name] = [key.slice(0, 1), key.slice(2)];
        waiter?.reject(new FettleError('E_COMMAND', `no ${kind === 'u' ? 'user' : 'group'} named '${name}' on the host`, { where: this.#where }));
      });
    } catch (error) {
      for (const waiter of batch.values()) waiter.reject(error);
    }
  }
}
