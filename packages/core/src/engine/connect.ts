import type { Host } from '../protocols/host.js';
import type { ConnectContext, Transport, TransportDefinition } from '../protocols/transport.js';
import type { Registry } from '../registry.js';
import { FettleError } from '../errors.js';
import { parseOrThrow } from '../schema.js';

/** The transport a host names, with its options checked against the transport's schema. */
export function resolveTransport(registry: Registry, host: Host): { transport: TransportDefinition; transportOptions: unknown } {
  const transport = registry.transport(host.transport);
  if (!transport) {
    throw new FettleError('E_INVENTORY', `unknown transport '${host.transport}'`, {
      where: `host ${host.name}`,
      expected: `one of ${registry.transportNames.join(', ') || '(no transports: add a transport plugin to the site)'}`,
    });
  }
  const transportOptions = parseOrThrow(transport.options, host.transportOptions, 'E_INVENTORY', `host ${host.name}, ${host.transport} transport options`);
  return { transport, transportOptions };
}

/** Connect to one host through its transport (for commands outside plan/apply, such as fleet operations). */
export async function connectHost(registry: Registry, host: Host, context: ConnectContext): Promise<Transport> {
  const { transport, transportOptions } = resolveTransport(registry, host);
  return transport.connect(host, transportOptions, context);
}
