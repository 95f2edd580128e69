/**
 * Helpers shared by this package's tests (not exported from index.ts, not bundled).
 */
import type { ConnectContext, Host, Transport } from '@fettle/core';
import type { SshdKit } from '@fettle/testkit';
import { sshOptionsSchema, type SshOptionsInput } from './options.js';
import { sshTransport } from './transport.js';

export interface TestContext {
  readonly context: ConnectContext;
  /** Every warning the transport reported. */
  readonly warnings: string[];
  /** Every question asked through prompt. */
  readonly questions: string[];
}

/** A ConnectContext that records warnings and answers prompts from a function. */
export function testContext(answer?: (question: string) => string | null, signal?: AbortSignal): TestContext {
  const warnings: string[] = [];
  const questions: string[] = [];
  const prompt = answer
    ? (question: string): Promise<string | null> => {
        questions.push(question);
        return new Promise((resolve) => setTimeout(() => resolve(answer(question)), 5));
      }
    : undefined;
  // One run scope per test context, as the engine gives one per run: hosts connected with it share what is read once per run.
  return { context: { siteDir: process.cwd(), signal, warn: (message) => warnings.push(message), prompt, runScope: {} }, warnings, questions };
}

/** A Host reaching the kit as its login user with the kit's key and known_hosts, ignoring ~/.ssh. */
export function kitHost(kit: SshdKit, options: SshOptionsInput = {}, host: Partial<Host> = {}): Host {
  return {
    name: host.name ?? 'node1',
    address: '127.0.0.1',
    port: kit.port,
    user: kit.user,
    transport: 'ssh',
    transportOptions: { identityFile: kit.clientKeyPath, knownHosts: kit.knownHostsPath, sshConfig: false, agent: false, ...options },
    groups: [],
    roles: [],
    vars: {},
    readonly: false,
    ...host,
  };
}

/** Validate the host's options the way the engine does, then connect. */
export function connectHost(host: Host, context: ConnectContext = testContext().context): Promise<Transport> {
  return sshTransport.connect(host, sshOptionsSchema.parse(host.transportOptions), context);
}

/** The rejection of a promise (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection, but the promise resolved');
}
