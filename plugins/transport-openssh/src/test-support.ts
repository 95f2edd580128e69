/**
 * Helpers shared by this package's tests (not exported from index.ts, not bundled).
 */
import type { ConnectContext, Host, Transport } from '@fettle/core';
import type { SshdKit } from '@fettle/testkit';
import { opensshOptionsSchema, type OpensshOptionsInput } from './options.js';
import { opensshTransport } from './transport.js';

/** A ConnectContext that records warnings. */
export function testContext(): { context: ConnectContext; warnings: string[] } {
  const warnings: string[] = [];
  return { context: { siteDir: process.cwd(), warn: (message) => warnings.push(message) }, warnings };
}

/** A Host reaching the kit with its key and known_hosts through the system ssh, ignoring ~/.ssh/config. */
export function kitHost(kit: SshdKit, options: OpensshOptionsInput = {}, host: Partial<Host> = {}): Host {
  return {
    name: host.name ?? 'node1',
    address: '127.0.0.1',
    port: kit.port,
    user: kit.user,
    transport: 'openssh',
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
  return opensshTransport.connect(host, opensshOptionsSchema.parse(host.transportOptions), context);
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
