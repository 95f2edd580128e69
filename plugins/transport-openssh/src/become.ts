import { randomBytes } from 'node:crypto';
import { FettleError, shellQuote, type ConnectContext } from '@fettle/core';
import { sendPayload, type Payload } from '@fettle/transport-shell';
import type { StdinGate } from './exec.js';
import type { OpensshOptions } from './options.js';

/** How a command becomes "the same command as becomeUser". */
export interface Become {
  readonly active: boolean;
  wrap(command: string): { command: string; gate?: StdinGate | undefined; refuse?: Error | undefined };
}

type PromptFn = NonNullable<ConnectContext['prompt']>;
/** One answer per run: the engine gives every host of a run the same prompt function. */
const answers = new WeakMap<PromptFn, Promise<string | null>>();

function askOnce(context: ConnectContext, question: string): Promise<string | null> {
  const prompt = context.prompt;
  if (!prompt) return Promise.resolve(null);
  let answer = answers.get(prompt);
  if (!answer) {
    answer = prompt(question).then((value) => (value === '' ? null : value), () => null);
    answers.set(prompt, answer);
  }
  return answer;
}

/**
 * sudo -n / doas -n when no password is involved. With a password, `sudo -S` reads it
 * from the command's stdin, and only if it asks: sudo prints a random prompt marker
 * on stderr, the password is written only then, and the payload only after the command
 * prints a second marker. A rejected password is never sent again on that host.
 */
export function createBecome(options: OpensshOptions, loginUser: string, context: ConnectContext, hostName: string): Become {
  const target = options.becomeUser;
  if (!options.become || loginUser === target) return { active: false, wrap: (command) => ({ command }) };
  const where = { where: `host ${hostName}, openssh transport options` };
  if (options.become === 'doas') {
    if (options.sudoPassword !== 'none') {
      throw new FettleError('E_INVENTORY', "doas reads passwords only from a terminal, so sudoPassword cannot be used with become: 'doas'", { ...where, hint: "use 'permit nopass' in doas.conf, or become: 'sudo'" });
    }
    return { active: true, wrap: (command) => ({ command: `doas -n -u ${shellQuote(target)} sh -c ${shellQuote(command)}` }) };
  }
  const policy = options.sudoPassword;
  if (policy === 'none') return { active: true, wrap: (command) => ({ command: `sudo -n -u ${shellQuote(target)} -- sh -c ${shellQuote(command)}` }) };
  let password: () => Promise<string | null>;
  if (policy === 'prompt') password = () => askOnce(context, `sudo password (for ${loginUser} on the hosts of this run): `);
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
      if (rejected) return { command, refuse: new FettleError('E_TRANSPORT', 'sudo rejected the password earlier on this host; not trying again', { where: `host ${hostName}` }) };
      const script = `printf '%s' ${shellQuote(ready)} >&2\n${command}`;
      const gate = new SudoGate(prompt, ready, password, hostName, () => {
        rejected = true;
      });
      return { command: `sudo -S -p ${shellQuote(prompt)} -u ${shellQuote(target)} -- sh -c ${shellQuote(script)}`, gate };
    },
  };
}

/** See createBecome. Works on latin1 text so byte offsets survive. */
class SudoGate implements StdinGate {
  #pending = '';
  #ready = false;
  #prompts = 0;
  readonly #kept: Buffer[] = [];
  #stdin: Parameters<StdinGate['start']>[0] | undefined;
  #payload: Payload | undefined;
  #fail: (error: Error) => void = () => undefined;

  constructor(
    readonly prompt: string,
    readonly ready: string,
    readonly password: () => Promise<string | null>,
    readonly hostName: string,
    readonly onRejected: () => void,
  ) {}

  start(stdin: Parameters<StdinGate['start']>[0], payload: Payload | undefined, fail: (error: Error) => void): void {
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
        this.#keep(this.#pending.slice(atReady + this.ready.length));
        this.#pending = '';
        this.#ready = true;
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
        if (value === null) this.#fail(new FettleError('E_TRANSPORT', 'sudo asks for a password and none is available', { ...where, hint: "sudoPassword 'prompt' needs a TTY; or use {env: NAME}, or NOPASSWD sudo" }));
        else this.#stdin?.write(`${value}\n`);
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
