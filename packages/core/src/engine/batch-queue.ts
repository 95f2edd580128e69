import type { Fact, FactEnv } from '../protocols/fact.js';
import { shellText } from '../protocols/shell.js';
import type { ExecResult } from '../protocols/transport.js';
import { FettleError } from '../errors.js';
import type { BatchOp } from './batch.js';

/** Function properties, not methods: they are taken off the promise and called detached. */
interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/** One query of a fact and its one answer, which every ask of the same query shares (no waiter list per item). */
interface QueryEntry extends Waiter<unknown> {
  readonly query: unknown;
  readonly answer: Promise<unknown>;
}

function queryEntry(query: unknown): QueryEntry {
  // Assigned by the executor, which runs before the constructor returns.
  let resolve!: (value: unknown) => void;
  let reject!: (error: unknown) => void;
  const answer = new Promise<unknown>((settle, fail) => {
    resolve = settle;
    reject = fail;
  });
  return { query, answer, resolve, reject };
}

interface FactAsk {
  readonly fact: Fact<unknown, unknown>;
  readonly stage: number | undefined;
  readonly queries: Map<string, QueryEntry>;
}

interface RunAsk {
  readonly op: BatchOp;
  readonly waiter: Waiter<ExecResult>;
}

/** What one batch carries: its ops in the order they run, and how each op's answer settles its asks. */
export interface QueuedBatch {
  readonly ops: BatchOp[];
  /** Parallel to `ops`: hands an op's result (or why it has none) to whoever asked for it. */
  readonly settle: ((result: ExecResult | Error) => void)[];
}

/**
 * The asks waiting for a host's next batch. Queries of one fact (in one stage) are
 * coalesced into one command, the way a DataLoader coalesces loads, and the batch
 * is ordered so gates mean something: guards first, then staged ops stage by stage,
 * then the unstaged rest. Kept apart from the session, which decides *when* a batch
 * leaves and how it travels.
 */
export class BatchQueue {
  readonly #host: string;
  #facts = new Map<string, FactAsk>();
  #runs: RunAsk[] = [];

  constructor(host: string) {
    this.#host = host;
  }

  get empty(): boolean {
    return this.#facts.size === 0 && this.#runs.length === 0;
  }

  /** A reason `fact` cannot join this batch: another fact already queued under its name. */
  clash(fact: Fact<unknown, unknown>, stage: number | undefined): FettleError | undefined {
    const queued = this.#facts.get(factKey(fact, stage));
    if (!queued || queued.fact === fact) return undefined;
    // Two definitions under one name, not listed in any plugin's `facts` (the registry refuses listed ones at load).
    return new FettleError('E_PLUGIN', `two different facts are named '${fact.name}'`, {
      where: `host ${this.#host}`,
      hint: "list each plugin's facts in definePlugin({ facts }) so the clash is reported with both packages before any host is touched",
    });
  }

  /** Queue one fact query (after `clash` said it may); answered from the fact's one command in the batch. */
  addFact<Q, R>(fact: Fact<Q, R>, query: Q, stage: number | undefined): Promise<R> {
    const key = fact.key ? fact.key(query) : JSON.stringify(query);
    const askKey = factKey(fact, stage);
    let ask = this.#facts.get(askKey);
    if (!ask) {
      ask = { fact, stage, queries: new Map() };
      this.#facts.set(askKey, ask);
    }
    let entry = ask.queries.get(key);
    if (!entry) {
      entry = queryEntry(query);
      ask.queries.set(key, entry);
    }
    return entry.answer as Promise<R>;
  }

  /** Queue one command (a guard, a fix's command, a write riding in the batch). */
  addRun(op: BatchOp): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      this.#runs.push({ op, waiter: { resolve, reject } });
    });
  }

  /** Whether a guard is queued: a batch that carries one is not refused by the last guard's failure. */
  get hasGuard(): boolean {
    return this.#runs.some((ask) => ask.op.guard === true);
  }

  /** Hand over everything queued, as a queue of its own, and start empty: asks from now on wait for the next batch. */
  take(): BatchQueue {
    const taken = new BatchQueue(this.#host);
    taken.#facts = this.#facts;
    taken.#runs = this.#runs;
    this.#facts = new Map();
    this.#runs = [];
    return taken;
  }

  /** Reject every ask with `error`: nothing of them will run. */
  rejectAll(error: unknown): void {
    for (const ask of this.#runs) ask.waiter.reject(error);
    for (const ask of this.#facts.values()) rejectEntries([...ask.queries.values()], error);
  }

  /** The asks as one batch, in the order its ops must run (see the class comment). */
  ordered(env: FactEnv): QueuedBatch {
    const facts = [...this.#facts.values()];
    const runs = this.#runs;
    const batch: QueuedBatch = { ops: [], settle: [] };
    const addRun = (ask: RunAsk): void => {
      batch.ops.push(ask.op);
      batch.settle.push((result) => (result instanceof Error ? ask.waiter.reject(result) : ask.waiter.resolve(result)));
    };
    for (const ask of runs) if (ask.op.guard === true) addRun(ask);
    const stages = [...new Set([...facts.map((ask) => ask.stage), ...runs.map((ask) => ask.op.stage)])]
      .filter((stage): stage is number => stage !== undefined)
      .sort((a, b) => a - b);
    for (const stage of [...stages, undefined]) {
      for (const ask of facts) if (ask.stage === stage) this.#addFact(ask, env, batch);
      for (const ask of runs) if (ask.op.stage === stage && ask.op.guard !== true) addRun(ask);
    }
    return batch;
  }

  #addFact(ask: FactAsk, env: FactEnv, batch: QueuedBatch): void {
    const entries = [...ask.queries.values()];
    const queries = entries.map((entry) => entry.query);
    let command: string;
    try {
      command = shellText(ask.fact.command(queries, env), `fact ${ask.fact.name}: command()`);
    } catch (error) {
      rejectEntries(entries, error);
      return;
    }
    batch.ops.push({ command, stage: ask.stage });
    batch.settle.push((result) => this.#settleFact(ask.fact, entries, queries, env, result));
  }

  /** Parse one fact command's output into an answer per query (or reject them all with why not). */
  #settleFact(fact: Fact<unknown, unknown>, entries: QueryEntry[], queries: unknown[], env: FactEnv, result: ExecResult | Error): void {
    if (result instanceof Error) return rejectEntries(entries, result);
    const okCodes = fact.okCodes ?? [0];
    if (result.code === null || !okCodes.includes(result.code)) {
      return rejectEntries(
        entries,
        new FettleError('E_COMMAND', `fact ${fact.name} failed (exit ${String(result.code)}): ${result.stderr.toString('utf8').trim() || '(no output)'}`, {
          where: `host ${this.#host}`,
        }),
      );
    }
    let parsed: unknown[];
    try {
      parsed = fact.parse(result.stdout.toString('utf8'), queries, env);
    } catch (error) {
      return rejectEntries(entries, error);
    }
    for (let index = 0; index < entries.length; index++) (entries[index] as QueryEntry).resolve(parsed[index]);
  }
}

/** Queries of one fact coalesce per stage: a stage's read must not be answered before the stages it follows ran. */
function factKey(fact: Fact<unknown, unknown>, stage: number | undefined): string {
  return stage === undefined ? fact.name : `${String(stage)}\0${fact.name}`;
}

function rejectEntries(entries: readonly QueryEntry[], error: unknown): void {
  for (const entry of entries) entry.reject(error);
}
