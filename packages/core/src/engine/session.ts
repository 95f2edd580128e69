import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Fact, FactEnv } from '../protocols/fact.js';
import { hostPathUnder, mapItemPath, shellQuote } from '../protocols/shell.js';
import type { Host } from '../protocols/host.js';
import type { ItemContext, RunResult, WriteOptions } from '../protocols/item.js';
import type { BatchLink, ExecOptions, ExecResult, FileData, FileOwnership, Transport } from '../protocols/transport.js';
import { isLocalFile, isUnreachableError, type UnreachableError } from '../protocols/transport.js';
import { FettleError } from '../errors.js';
import type { BatchOp } from './batch.js';
import { BatchQueue } from './batch-queue.js';
import { sendBatch, type BatchChannel } from './send-batch.js';
import { batchGates, deferred, notRunError, type BatchGates } from './batch-gates.js';
import { itemContext, sessionContext } from './session-context.js';

/** Round trips this session made, for budgets and reports. */
export interface SessionStats {
  /** Remote commands sent (one per batch). */
  execs: number;
  /** Fact queries and commands carried by those batches. */
  ops: number;
  fileWrites: number;
  fileReads: number;
}

/**
 * One host's connection as item code sees it. Fact asks and commands made in one
 * tick are coalesced (the way a DataLoader coalesces loads) and sent as one remote
 * script, so gathering the state of N items costs one round trip.
 */
export class HostSession {
  readonly host: Host;
  readonly transport: Transport;
  readonly stats: SessionStats = { execs: 0, ops: 0, fileWrites: 0, fileReads: 0 };
  readonly context: ItemContext;
  readonly #env: FactEnv;
  readonly #queue: BatchQueue;
  readonly #channel: BatchChannel;
  #scheduled = false;
  /** The stage the ops asked now belong to (fixes of one batch, in dependency order), or undefined. */
  #stage: number | undefined;
  /** While held, asks accumulate: the engine places several stages of fixes in one batch. */
  #held = false;
  /** The last guard's outcome (true: passed): once one failed, the session runs nothing more. */
  #guarded: Promise<boolean> | undefined;
  /** Asks made so far (commands, fact queries, writes): the engine sees whether fixes asked more after a batch left. */
  #asks = 0;
  /** Settled when the batch being built is done, with what its gates let through. */
  #building: { promise: Promise<BatchGates>; resolve(gates: BatchGates): void } | undefined;
  /** Writes too big for a batch, waiting for theirs to be done. */
  #deferred = 0;
  /** The transport's writes through the batch, when it offers them. */
  readonly #write: ((path: string, data: FileData, ownership?: FileOwnership) => Promise<void>) | undefined;
  #lost: { error: UnreachableError; at: number } | undefined;
  readonly #itemContexts = new Map<string, ItemContext>();
  /** Items whose code read a secret through their context: they carry it, like items with secret attributes. */
  readonly tainted = new Set<string>();
  readonly #taint = (itemId: string): void => {
    this.tainted.add(itemId);
  };

  constructor(host: Host, transport: Transport, siteDir: string, secrets?: (name: string) => Promise<string>, warn?: (message: string) => void) {
    this.host = host;
    this.transport = transport;
    this.#queue = new BatchQueue(host.name);
    const root = transport.root;
    // One mapping for files and commands: readFile/writeFile use it, hostPath() hands it to `sh`.
    const mapPath = (itemPath: string): string => mapItemPath(root, itemPath);
    const hostPath = (itemPath: string) => hostPathUnder(root, itemPath);
    this.#env = { root, hostPath };
    this.context = sessionContext({ host, root, siteDir, hostPath }, {
      fact: (fact, query) => this.fact(fact, query),
      run: (command, options) => this.run(command, options),
      readFile: (itemPath) => {
        this.stats.fileReads++;
        return this.#watch(transport.readFile(mapPath(itemPath)));
      },
      writeFile: (itemPath, data, ownership, options) => this.#writeFile(mapPath(itemPath), itemPath, data, ownership, options),
    }, secrets, warn);
    this.#write = transport.writeVia?.(this.#link());
    this.#channel = {
      host: host.name,
      exec: (command, options) => this.#watch(transport.exec(command, options)),
      probe: async () => {
        await this.#watch(transport.exec('true'));
      },
    };
  }

  /**
   * Write one file: through the batch when the transport rides writes in it (gated like
   * the fixes around it, in the same remote command), else with the transport's own
   * command after the batch it belongs to, and only if that batch's gates passed.
   */
  async #writeFile(target: string, itemPath: string, data: FileData, ownership?: FileOwnership, options?: WriteOptions): Promise<void> {
    if (options?.createParents) {
      const made = await this.run(`mkdir -p ${shellQuote(path.posix.dirname(target))}`);
      if (made.code !== 0) {
        throw new FettleError('E_COMMAND', `cannot create the folder of ${itemPath}: ${made.stderr.trim() || `exit code ${String(made.code)}`}`, { where: `host ${this.host.name}` });
      }
    }
    this.stats.fileWrites++;
    if (this.#write) return this.#watch(this.#write(target, data, ownership));
    const transport = this.transport;
    return this.#afterBatch(() => {
      if (!isLocalFile(data)) return this.#watch(transport.writeFile(target, data, ownership));
      // A transport that cannot stream gets the file's bytes (read whole, as it asks).
      const write = transport.writeLocalFile ? transport.writeLocalFile(target, data, ownership) : readFile(data.localPath).then((bytes) => transport.writeFile(target, bytes, ownership));
      return this.#watch(write);
    });
  }

  /** What the transport's batched writer sees of this session. */
  #link(): BatchLink {
    return {
      maxStdin: INLINE_STDIN,
      run: (command, stdin) => this.#ask({ command, stdin: Buffer.from(stdin), stage: this.#stage }),
      follow: (send) => this.#afterBatch(send),
    };
  }

  /**
   * Run `send` after the batch being built, unless its gates would have kept an op of
   * the current stage from running. In flight (see `deferredWrites`) until it settles.
   */
  async #afterBatch<T>(send: () => Promise<T>): Promise<T> {
    const stage = this.#stage;
    this.#deferred++;
    try {
      const gates = await this.#gates();
      if (!gates.passed(stage)) throw notRunError(this.host.name);
      this.#asks++;
      return await send();
    } finally {
      this.#deferred--;
    }
  }

  /** The gates of the batch being built (or, with nothing queued, of none: all pass but a failed guard). */
  #gates(): Promise<BatchGates> {
    if (this.#queue.empty) return this.#guardGates();
    this.#building ??= deferred<BatchGates>();
    return this.#building.promise;
  }

  async #guardGates(): Promise<BatchGates> {
    const ok = this.#guarded ? await this.#guarded : true;
    return { passed: () => ok };
  }

  /** The connection was lost (the transport said so), and when; undefined while it is usable. */
  get lost(): { readonly error: UnreachableError; readonly at: number } | undefined {
    return this.#lost;
  }

  /** Note a lost connection seen through any operation, so the engine stops starting work on this host. */
  #watch<T>(operation: Promise<T>): Promise<T> {
    return operation.catch((error: unknown) => {
      if (isUnreachableError(error)) this.#lost ??= { error, at: Date.now() };
      throw error;
    });
  }

  /**
   * The context for one item's hooks: the same session, except that reading a secret
   * marks the item as carrying one (a template that calls secret(), say), so it is
   * displayed without content whichever way the secret reached it.
   */
  contextFor(itemId: string): ItemContext {
    let context = this.#itemContexts.get(itemId);
    if (!context) {
      context = itemContext(this.context, itemId, this.#taint);
      this.#itemContexts.set(itemId, context);
    }
    return context;
  }

  /**
   * Ops asked from now until the next batch leaves belong to `stage`. Staged ops run after
   * any guard and only when it passed, and a stage only when every op of the earlier
   * stages succeeded; unstaged ops always run, after them.
   */
  set stage(stage: number | undefined) {
    this.#stage = stage;
  }

  /** Hold the batch open (asks accumulate) until `release()`: one batch for several ticks of asks. */
  hold(): void {
    this.#held = true;
  }

  /** Send what the hold gathered, now: one batch. */
  release(): void {
    this.#held = false;
    void this.#flush();
  }

  /** Let every ask of the current tick (and the writes they start on the next) reach the queue. */
  async settle(): Promise<void> {
    // At least two turns: a writer queues on the turn after its write was asked for.
    for (let turn = 0, before = -1; turn < 10; turn++) {
      if (turn >= 2 && before === this.#asks) return;
      before = this.#asks;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Asks made so far (see `settle`), and writes waiting for their batch to be done. */
  get asks(): number {
    return this.#asks;
  }

  get deferredWrites(): number {
    return this.#deferred;
  }

  /**
   * Run a guard at the head of the next batch: when it exits non-zero, no staged op
   * of that batch runs (they fail with E_NOT_RUN), nor any later write.
   */
  guard(command: string): Promise<RunResult> {
    const result = this.#ask({ command, guard: true });
    this.#guarded = result.then(
      (done) => done.code === 0,
      () => false,
    );
    return result.then((done) => ({ code: done.code, stdout: done.stdout.toString('utf8'), stderr: done.stderr.toString('utf8') }));
  }

  fact<Q, R>(fact: Fact<Q, R>, query: Q): Promise<R> {
    const clash = this.#queue.clash(fact, this.#stage);
    if (clash) return Promise.reject(clash);
    this.#asks++;
    const answer = this.#queue.addFact(fact, query, this.#stage);
    this.#schedule();
    return answer;
  }

  async run(command: string, options: ExecOptions = {}): Promise<RunResult> {
    if (options.timeoutMs !== undefined) {
      // A command with its own deadline runs alone, so its timeout cannot kill a batch; after the
      // batch being built, and only if its gates (the lock's take, earlier stages) passed.
      const result = await this.#afterBatch(() => {
        this.stats.execs++;
        this.stats.ops++;
        return this.#watch(this.transport.exec(command, options));
      });
      return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
    }
    const stdin = options.stdin === undefined ? undefined : Buffer.from(options.stdin);
    const result = await this.#ask({ command, stdin, stage: this.#stage });
    return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
  }

  /** Queue one op for the next batch. */
  #ask(op: BatchOp): Promise<ExecResult> {
    this.#asks++;
    const result = this.#queue.addRun(op);
    this.#schedule();
    return result;
  }

  #schedule(): void {
    if (this.#scheduled || this.#held) return;
    this.#scheduled = true;
    // setImmediate runs after every pending promise continuation, so all asks made
    // by items started together land in one batch.
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#held) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const queued = this.#queue.take();
    const building = this.#building;
    this.#building = undefined;
    // A stage belongs to the batch being built: asks made after it are unstaged again.
    this.#stage = undefined;
    const guarded = this.#guarded;
    // After a failed guard (the host lock refused) nothing more runs on this host.
    if (guarded && !queued.hasGuard && !(await guarded)) {
      queued.rejectAll(notRunError(this.host.name));
      building?.resolve({ passed: () => false });
      return;
    }
    // Guards first; then staged ops, stage by stage (facts, then commands); then the rest.
    const { ops, settle } = queued.ordered(this.#env);
    if (ops.length === 0) {
      building?.resolve(await this.#guardGates());
      return;
    }
    this.stats.ops += ops.length;
    this.stats.execs++;
    const results = await sendBatch(this.#channel, ops);
    results.forEach((result, index) => settle[index]?.(result));
    building?.resolve(batchGates(ops, results));
  }
}

/** A write's stdin up to this size travels inside the batch script (base64); larger ones follow the batch. */
const INLINE_STDIN = 4 * 1024 * 1024;
