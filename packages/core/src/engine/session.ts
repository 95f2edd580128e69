import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Fact, FactEnv } from '../protocols/fact.js';
import { hostPathUnder, mapItemPath, shellQuote, shellText } from '../protocols/shell.js';
import type { Host } from '../protocols/host.js';
import type { ItemContext, RunResult, WriteOptions } from '../protocols/item.js';
import type { BatchLink, ExecOptions, ExecResult, FileData, FileOwnership, Transport } from '../protocols/transport.js';
import { isLocalFile, isUnreachableError, type UnreachableError } from '../protocols/transport.js';
import { FettleError } from '../errors.js';
import { buildBatchScript, parseBatchOutput, unframedStderr, type BatchOp } from './batch.js';
import { batchGates, deferred, notRunError, type BatchGates } from './batch-gates.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

interface FactAsk {
  readonly fact: Fact<unknown, unknown>;
  readonly stage: number | undefined;
  readonly queries: Map<string, { query: unknown; waiters: Waiter<unknown>[] }>;
}

interface RunAsk {
  readonly op: BatchOp;
  readonly waiter: Waiter<ExecResult>;
}

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
  #facts = new Map<string, FactAsk>();
  #runs: RunAsk[] = [];
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

  constructor(host: Host, transport: Transport, siteDir: string, secrets?: (name: string) => Promise<string>, warn?: (message: string) => void) {
    this.host = host;
    this.transport = transport;
    const root = transport.root;
    // One mapping for files and commands: readFile/writeFile use it, hostPath() hands it to `sh`.
    const mapPath = (itemPath: string): string => mapItemPath(root, itemPath);
    const hostPath = (itemPath: string) => hostPathUnder(root, itemPath);
    this.#env = { root, hostPath };
    // Arrow functions keep `this`; item code may call these detached.
    this.context = {
      host,
      root,
      siteDir,
      hostPath,
      secret: (name) => {
        if (!secrets) return Promise.reject(new FettleError('E_SECRET', `secret '${name}' cannot be read here`, { where: `host ${host.name}` }));
        return secrets(name);
      },
      fact: <Q, R>(fact: Fact<Q, R>, query: Q) => this.fact(fact, query),
      run: async (command, options) => this.run(shellText(command, 'run()'), options),
      runChecked: async (command, options) => {
        const result = await this.run(shellText(command, 'runChecked()'), options);
        if (result.code !== 0) {
          throw new FettleError('E_COMMAND', `command failed with exit code ${String(result.code)}: ${result.stderr.trim() || result.stdout.trim() || '(no output)'}`, {
            where: `host ${host.name}`,
          });
        }
        return result;
      },
      readFile: (itemPath) => {
        this.stats.fileReads++;
        return this.#watch(transport.readFile(mapPath(itemPath)));
      },
      writeFile: async (itemPath, data, ownership?: FileOwnership, options?: WriteOptions) => {
        const target = mapPath(itemPath);
        if (options?.createParents) {
          const made = await this.run(`mkdir -p ${shellQuote(path.posix.dirname(target))}`);
          if (made.code !== 0) {
            throw new FettleError('E_COMMAND', `cannot create the folder of ${itemPath}: ${made.stderr.trim() || `exit code ${String(made.code)}`}`, { where: `host ${host.name}` });
          }
        }
        this.stats.fileWrites++;
        // Through the batch: gated like the fixes around it, in the same remote command.
        if (this.#write) return this.#watch(this.#write(target, data, ownership));
        // Through the transport's own command, after the batch it belongs to, and only if that batch's gates passed.
        return this.#afterBatch(() => {
          if (!isLocalFile(data)) return this.#watch(transport.writeFile(target, data, ownership));
          // A transport that cannot stream gets the file's bytes (read whole, as it asks).
          const write = transport.writeLocalFile ? transport.writeLocalFile(target, data, ownership) : readFile(data.localPath).then((bytes) => transport.writeFile(target, bytes, ownership));
          return this.#watch(write);
        });
      },
      warn: (message) => warn?.(message),
    };
    this.#write = transport.writeVia?.(this.#link());
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
    if (this.#facts.size === 0 && this.#runs.length === 0) return this.#guardGates();
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
      const base = this.context;
      context = {
        ...base,
        secret: (name) => {
          this.tainted.add(itemId);
          return base.secret(name);
        },
        warn: (message) => base.warn(`${itemId}: ${message}`),
      };
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
    const key = fact.key ? fact.key(query) : JSON.stringify(query);
    const askKey = this.#stage === undefined ? fact.name : `${String(this.#stage)}\0${fact.name}`;
    let ask = this.#facts.get(askKey);
    if (ask && ask.fact !== fact) {
      // Two definitions under one name, not listed in any plugin's `facts` (the registry refuses listed ones at load).
      return Promise.reject(
        new FettleError('E_PLUGIN', `two different facts are named '${fact.name}'`, {
          where: `host ${this.host.name}`,
          hint: "list each plugin's facts in definePlugin({ facts }) so the clash is reported with both packages before any host is touched",
        }),
      );
    }
    this.#asks++;
    if (!ask) {
      ask = { fact: fact, stage: this.#stage, queries: new Map() };
      this.#facts.set(askKey, ask);
    }
    let entry = ask.queries.get(key);
    if (!entry) {
      entry = { query, waiters: [] };
      ask.queries.set(key, entry);
    }
    const waiters = entry.waiters;
    const promise = new Promise<R>((resolve, reject) => {
      waiters.push({ resolve: resolve, reject });
    });
    this.#schedule();
    return promise;
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
    return new Promise<ExecResult>((resolve, reject) => {
      this.#runs.push({ op, waiter: { resolve, reject } });
      this.#schedule();
    });
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
    const facts = [...this.#facts.values()];
    const runs = this.#runs;
    this.#facts = new Map();
    this.#runs = [];
    const building = this.#building;
    this.#building = undefined;
    // A stage belongs to the batch being built: asks made after it are unstaged again.
    this.#stage = undefined;
    const guarded = this.#guarded;
    // After a failed guard (the host lock refused) nothing more runs on this host.
    if (guarded && !runs.some((ask) => ask.op.guard === true) && !(await guarded)) {
      const refused = notRunError(this.host.name);
      for (const ask of runs) ask.waiter.reject(refused);
      for (const ask of facts) for (const entry of ask.queries.values()) for (const waiter of entry.waiters) waiter.reject(refused);
      building?.resolve({ passed: () => false });
      return;
    }
    const ops: BatchOp[] = [];
    const settle: ((result: ExecResult | Error) => void)[] = [];
    const addRun = (ask: RunAsk): void => {
      ops.push(ask.op);
      settle.push((result) => (result instanceof Error ? ask.waiter.reject(result) : ask.waiter.resolve(result)));
    };
    // Guards first; then staged ops, stage by stage (facts, then commands); then the rest (facts, then commands).
    for (const ask of runs) if (ask.op.guard === true) addRun(ask);
    const stages = [...new Set([...facts.map((ask) => ask.stage), ...runs.map((ask) => ask.op.stage)])]
      .filter((stage): stage is number => stage !== undefined)
      .sort((a, b) => a - b);
    for (const stage of [...stages, undefined]) {
      for (const ask of facts) if (ask.stage === stage) this.#addFact(ask, ops, settle);
      for (const ask of runs) if (ask.op.stage === stage && ask.op.guard !== true) addRun(ask);
    }
    if (ops.length === 0) {
      building?.resolve(await this.#guardGates());
      return;
    }
    this.stats.ops += ops.length;
    const results = await this.#execBatch(ops);
    results.forEach((result, index) => settle[index]?.(result));
    building?.resolve(batchGates(ops, results));
  }

  /**
   * A command killed by a signal is often the first sign of a lost connection (the server
   * killed the session): ask the connection once, so what got no answer says "unreachable"
   * (the probe rejects, and the session is marked lost), not "failed".
   */
  async #probeConnection(): Promise<void> {
    await this.#watch(this.transport.exec('true'));
  }

  #addFact(ask: FactAsk, ops: BatchOp[], settle: ((result: ExecResult | Error) => void)[]): void {
    const entries = [...ask.queries.values()];
    const queries = entries.map((entry) => entry.query);
    let command: string;
    try {
      command = shellText(ask.fact.command(queries, this.#env), `fact ${ask.fact.name}: command()`);
    } catch (error) {
      for (const entry of entries) for (const waiter of entry.waiters) waiter.reject(error);
      return;
    }
    ops.push({ command, stage: ask.stage });
    settle.push((result) => this.#settleFact(ask.fact, entries, queries, result));
  }

  async #execBatch(ops: readonly BatchOp[]): Promise<(ExecResult | Error)[]> {
    this.stats.execs++;
    try {
      if (ops.length === 1) {
        const op = ops[0] as BatchOp;
        const result = await this.#watch(this.transport.exec(op.command, { stdin: op.stdin }));
        if (result.code === null) await this.#probeConnection();
        return [result];
      }
      const raw = await this.#watch(this.transport.exec('sh -s', { stdin: buildBatchScript(ops) }));
      const results = parseBatchOutput(raw, ops.length);
      if (results.length < ops.length && raw.code === null) await this.#probeConnection();
      return ops.map((_op, index) => {
        const result = results[index];
        if (result?.notRun) return notRunError(this.host.name);
        if (result) return result;
        const detail = unframedStderr(raw).trim();
        return new FettleError('E_COMMAND', `remote batch ended early (exit ${String(raw.code)})${detail ? `: ${detail}` : ''}`, {
          where: `host ${this.host.name}`,
        });
      });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return ops.map(() => failure);
    }
  }

  #settleFact(
    fact: Fact<unknown, unknown>,
    entries: { query: unknown; waiters: Waiter<unknown>[] }[],
    queries: unknown[],
    result: ExecResult | Error,
  ): void {
    const rejectAll = (error: unknown): void => {
      for (const entry of entries) for (const waiter of entry.waiters) waiter.reject(error);
    };
    if (result instanceof Error) return rejectAll(result);
    const okCodes = fact.okCodes ?? [0];
    if (result.code === null || !okCodes.includes(result.code)) {
      return rejectAll(
        new FettleError('E_COMMAND', `fact ${fact.name} failed (exit ${String(result.code)}): ${result.stderr.toString('utf8').trim() || '(no output)'}`, {
          where: `host ${this.host.name}`,
        }),
      );
    }
    let parsed: unknown[];
    try {
      parsed = fact.parse(result.stdout.toString('utf8'), queries, this.#env);
    } catch (error) {
      return rejectAll(error);
    }
    entries.forEach((entry, index) => {
      for (const waiter of entry.waiters) waiter.resolve(parsed[index]);
    });
  }
}

/** A write's stdin up to this size travels inside the batch script (base64); larger ones follow the batch. */
const INLINE_STDIN = 4 * 1024 * 1024;
