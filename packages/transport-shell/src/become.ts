import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { FettleError, shellQuote, type ConnectContext } from '@fettle/core';
import { sendPayload, type Payload } from './tar.js';

/**
 * Holds a command's stdin back until the remote side is ready for it (sudo -S: the
 * password must go first, and only when sudo actually asks). It sees stderr first
 * and gives back the bytes that belong to the command.
 */
export interface StdinGate {
  start(stdin: Writable, payload: Payload | undefined, fail: (error: Error) => void): void;
  onStderr(chunk: Buffer): void;
  /** stderr without the gate's markers. */
  stderr(): Buffer;
}

/** How a command is turned into "the same command as becomeUser". */
export interface Become {
  /** False when there is nothing to wrap (no become, or we already log in as becomeUser). */
  readonly active: boolean;
  /** The command to send, or `refuse`: an error to throw without contacting the host. */
  wrap(command: string): { command: string; gate?: StdinGate | undefined; refuse?: Error | undefined };
}

/** The become part of an SSH transport's options. */
export interface BecomeOptions {
  readonly become?: 'sudo' | 'doas' | undefined;
  readonly becomeUser: string;
  readonly sudoPassword: 'none' | 'prompt' | { readonly env: string };
}

type PromptFn = NonNullable<ConnectContext['prompt']>;

/**
 * Answers per run. The engine hands every host of one run the same `prompt`
 * function, so keying on it means "ask once per run" even when 32 hosts connect at
 * once (they share the pending question), and the answers die with the run. They
 * live only here, in memory, and are never part of a message.
 */
const answers = new WeakMap<PromptFn, Map<string, Promise<string | null>>>();

export function askOnce(context: ConnectContext, key: string, question: string): Promise<string | null> {
  const prompt = context.prompt;
  if (!prompt) return Promise.resolve(null);
  let perRun = answers.get(prompt);
  if (!perRun) {
    perRun = new Map();
    answers.set(prompt, perRun);
  }
  let answer = perRun.get(key);
  if (!answer) {
    answer = prompt(question).then(
      (value) => (value === '' ? null : value),
      () => null,
    );
    perRun.set(key, answer);
  }
  return answer;
}

/**
 * sudo -n / doas -n when no password is involved. With a password, `sudo -S` reads it
 * from stdin, the same stdin that carries the batch script or the tar stream, and only
 * when it needs one (NOPASSWD rules and cached credentials skip the prompt). So the
 * prompt is a random marker on stderr: the password is written only when that marker
 * appears, and the payload only after the command announces itself with a second
 * marker. Nothing is guessed, and a rejected password (a second prompt) is never sent
 * again on that host. `transport` names the options in messages (`ssh`, `openssh`).
 */
export function createBecome(options: BecomeOptions, loginUser: string, context: ConnectContext, hostName: string, transport: string): Become {
  const target = options.becomeUser;
  if (!options.become || loginUser === target) return { active: false, wrap: (command) => ({ command }) };
  const where = { where: `host ${hostName}, ${transport} transport options` };
  const policy = options.sudoPassword;
  if (options.become === 'doas') {
    if (policy !== 'none') {
      throw new FettleError('E_INVENTORY', "doas reads passwords only from a terminal, so sudoPassword cannot be used with become: 'doas'", { ...where, hint: "use 'permit nopass' in doas.conf, or become: 'sudo'" });
    }
    return { active: true, wrap: (command) => ({ command: `doas -n -u ${shellQuote(target)} sh -c ${shellQuote(command)}` }) };
  }
  if (policy === 'none') return { active: true, wrap: (command) => ({ command: `sudo -n -u ${shellQuote(target)} -- sh -c ${shellQuote(command)}` }) };

  let password: () => Promise<string | null>;
  if (policy === 'prompt') password = () => askOnce(context, 'sudo-password', `sudo password (for ${loginUser} on the hosts of this run): `);
  else {
    const value = process.env[policy.env];
    if (!value) throw new FettleError('E_INVENTORY', `sudoPassword names the environment variable ${policy.env}, which is not set`, where);
    password = () => Promise.resolve(value);
  }
  const nonce = randomBytes(8).toString('hex');
  const prompt = `[fettle-sudo-${nonce}]`;
  const ready = `[fettle-ready-${nonce}]`;
  let rejected = false;
  return {
    active: true,
    wrap(command) {
      // Never retried blindly: one wrong password per host, then nothing more is sent.
      if (rejected) return { command, refuse: new FettleError('E_TRANSPORT', 'sudo rejected the password earlier on this host; not trying again', { where: `host ${hostName}` }) };
      const script = `printf '%s' ${shellQuote(ready)} >&2\n${command}`;
      const gate = new SudoGate(prompt, ready, password, hostName, () => {
        rejected = true;
      });
      return { command: `sudo -S -p ${shellQuote(prompt)} -u ${shellQuote(target)} -- sh -c ${shellQuote(script)}`, gate };
    },
  };
}

/** See createBecome. Works on latin1 text so byte offsets survive the round trip. */
class SudoGate implements StdinGate {
  #pending = '';
  #ready = false;
  #prompts = 0;
  readonly #kept: Buffer[] = [];
  #stdin: Writable | undefined;
  #payload: Payload | undefined;
  #fail: (error: Error) => void = () => undefined;

  constructor(
    readonly prompt: string,
    readonly ready: string,
    readonly password: () => Promise<string | null>,
    readonly hostName: string,
    readonly onRejected: () => void,
  ) {}

  start(stdin: Writable, payload: Payload | undefined, fail: (error: Error) => void): void {
    this.#stdin = stdin;
    this.#payload = payload;
    this.#fail = fail;
  }

  onStderr(chunk: Buffer): void {
    if (this.#ready) return void this.#kept.push(chunk);
    this.#pending += chunk.toString('latin1');
    for (;;) {
      const atPrompt = this.#pending.indexOf(this.prompt);
      const atReady = this.#pending.indexOf(this.ready);
      if (atReady >= 0 && (atPrompt < 0 || atReady < atPrompt)) {
        this.#keep(this.#pending.slice(0, atReady));
        const rest = this.#pending.slice(atReady + this.ready.length);
        this.#pending = '';
        this.#ready = true;
        this.#keep(rest);
        if (this.#stdin) sendPayload(this.#stdin, this.#payload);
        return;
      }
      if (atPrompt < 0) return;
      this.#keep(this.#pending.slice(0, atPrompt));
      this.#pending = this.#pending.slice(atPrompt + this.prompt.length);
      this.#answer();
    }
  }

  #answer(): void {
    const where = { where: `host ${this.hostName}` };
    if (++this.#prompts > 1) {
      this.onRejected();
      return this.#fail(new FettleError('E_TRANSPORT', 'sudo rejected the password; not trying again on this host', { ...where, hint: 'check the sudo password; it was asked once for this run' }));
    }
    this.password().then(
      (value) => {
        if (value === null) {
          this.#fail(new FettleError('E_TRANSPORT', 'sudo asks for a password and none is available', { ...where, hint: "sudoPassword 'prompt' needs a TTY; or use {env: NAME}, or NOPASSWD sudo" }));
        } else {
          this.#stdin?.write(`${value}\n`);
        }
      },
      (error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  #keep(text: string): void {
    if (text !== '') this.#kept.push(Buffer.from(text, 'latin1'));
  }

  stderr(): Buffer {
    return Buffer.concat([...this.#kept, Buffer.from(this.#pending, 'latin1')]);
  }
}
