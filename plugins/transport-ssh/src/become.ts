import { randomBytes } from 'node:crypto';
import { FettleError, shellQuote, type ConnectContext } from '@fettle/core';
import { sendPayload, type Payload } from '@fettle/transport-shell';
import type { ClientChannel } from 'ssh2';
import type { StdinGate } from './exec.js';
import type { SshOptions } from './options.js';
import { askOnce } from './prompts.js';

/** How a command is turned into "the same command as becomeUser". */
export interface Become {
  /** False when there is nothing to wrap (no become, or we already log in as becomeUser). */
  readonly active: boolean;
  /** The command to send, or `refuse`: an error to throw without contacting the host. */
  wrap(command: string): { command: string; gate?: StdinGate | undefined; refuse?: Error | undefined };
}

/**
 * sudo -n when no password is involved. With a password, `sudo -S` reads it from
 * stdin, the same stdin that carries the batch script, and only when it needs one
 * (NOPASSWD rules and cached credentials skip the prompt). So the prompt is a random
 * marker on stderr: the password is written only when that marker appears, and the
 * payload only after the command announces itself with a second marker. Nothing is
 * guessed, and a rejected password (a second prompt) is never sent again.
 */
export function createBecome(options: SshOptions, loginUser: string, context: ConnectContext, hostName: string): Become {
  const method = options.become;
  const target = options.becomeUser;
  if (!method || loginUser === target) return { active: false, wrap: (command) => ({ command }) };
  const policy = options.sudoPassword;
  if (method === 'doas') {
    if (policy !== 'none') {
      throw new FettleError('E_INVENTORY', "doas reads passwords only from a terminal, so sudoPassword cannot be used with become: 'doas'", {
        where: `host ${hostName}, ssh transport options`,
        hint: "use 'permit nopass' in doas.conf, or become: 'sudo'",
      });
    }
    return { active: true, wrap: (command) => ({ command: `doas -n -u ${shellQuote(target)} sh -c ${shellQuote(command)}` }) };
  }
  if (policy === 'none') {
    return { active: true, wrap: (command) => ({ command: `sudo -n -u ${shellQuote(target)} -- sh -c ${shellQuote(command)}` }) };
  }

  let password: () => Promise<string | null>;
  if (policy === 'prompt') {
    password = () => askOnce(context, 'sudo-password', `sudo password (for ${loginUser} on the hosts of this run): `);
  } else {
    const value = process.env[policy.env];
    if (!value) {
      throw new FettleError('E_INVENTORY', `sudoPassword names the environment variable ${policy.env}, which is not set`, { where: `host ${hostName}, ssh transport options` });
    }
    password = () => Promise.resolve(value);
  }
  const nonce = randomBytes(8).toString('hex');
  const prompt = `[fettle-sudo-${nonce}]`;
  const ready = `[fettle-ready-${nonce}]`;
  let rejected = false;
  return {
    active: true,
    wrap(command) {
      if (rejected) {
        // Never retried blindly: one wrong password per host, then nothing more is sent.
        return { command, refuse: new FettleError('E_TRANSPORT', 'sudo rejected the password earlier on this host; not trying again', { where: `host ${hostName}` }) };
      }
      const script = `printf '%s' ${shellQuote(ready)} >&2\n${command}`;
      return {
        command: `sudo -S -p ${shellQuote(prompt)} -u ${shellQuote(target)} -- sh -c ${shellQuote(script)}`,
        gate: new SudoGate(prompt, ready, password, () => {
          rejected = true;
        }, hostName),
      };
    },
  };
}

/** See createBecome. Works on latin1 text so byte offsets survive the round trip. */
class SudoGate implements StdinGate {
  #pending = '';
  #ready = false;
  #prompts = 0;
  readonly #kept: Buffer[] = [];
  #stream: ClientChannel | undefined;
  #payload: Payload | undefined;
  #fail: (error: Error) => void = () => undefined;

  constructor(
    readonly prompt: string,
    readonly ready: string,
    readonly password: () => Promise<string | null>,
    readonly onRejected: () => void,
    readonly hostName: string,
  ) {}

  start(stream: ClientChannel, payload: Payload | undefined, fail: (error: Error) => void): void {
    this.#stream = stream;
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
        if (this.#stream) sendPayload(this.#stream, this.#payload);
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
          this.#stream?.write(`${value}\n`);
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
