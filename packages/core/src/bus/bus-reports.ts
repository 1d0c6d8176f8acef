/**
 * What a bus reports about itself: its health (transport, each endpoint, outbox relay), its
 * counters per endpoint, and its description for a service catalog. Built from the bus's state,
 * its endpoint runtimes and its definitions; `Bus.health`, `Bus.stats` and `Bus.describe` return them.
 *
 * @example
 * ```ts
 * const report = busHealth(state, transport, runtimes, outgoing.lastRelay);
 * ```
 * @module
 */
import type { AnyContract } from '../contracts/contract.js';
import type { EndpointDefinition } from '../consume/endpoint.js';
import type { Transport } from '../transport/transport.js';
import { healthReport, type EndpointHealth, type HealthReport } from '../observe/health.js';
import type { BusState } from './bus-core.js';
import type { BusDescription, BusStats, EndpointStats } from './bus-options.js';
import type { EndpointRuntime } from './endpoint-runtime.js';

/** The health of a bus in `state` on `transport` (undefined before it connected), with its last outbox relay. */
export function busHealth(
  state: BusState,
  transport: Transport | undefined,
  runtimes: readonly EndpointRuntime[],
  relay: { readonly at: number; readonly lagMs: number } | undefined,
): HealthReport {
  const active = state === 'started' || state === 'stopping';
  const status =
    transport === undefined || !active
      ? { connected: false, reason: `the bus is ${state}` }
      : (transport.status?.() ?? { connected: true });
  const endpoints: Record<string, EndpointHealth> = {};
  for (const runtime of runtimes) endpoints[runtime.definition.name] = runtime.health();
  const outbox = relay === undefined ? undefined : { lastRelayAt: new Date(relay.at).toISOString(), lastRelayLagMs: relay.lagMs };
  return healthReport(state, status, endpoints, outbox);
}

/** The counters of each endpoint (copies), and the requests awaiting a reply. */
export function busStats(runtimes: readonly EndpointRuntime[], pendingRequests: number): BusStats {
  const endpoints: Record<string, EndpointStats> = {};
  for (const runtime of runtimes) endpoints[runtime.definition.name] = { ...runtime.stats };
  return { endpoints, pendingRequests };
}

/** A bus's endpoints, the contracts they handle, and the contracts it has sent (`sends`). */
export function busDescription(
  bus: { readonly service: string; readonly instanceId: string; readonly host: string },
  definitions: readonly EndpointDefinition[],
  sends: AnyContract[],
): BusDescription {
  const endpoints = definitions.map((d) => ({
    name: d.name,
    topics: [...d.topics],
    handles: [...d.routes.values()].flatMap((r) => (r.contract === undefined ? [] : [r.contract])),
  }));
  return { service: bus.service, instanceId: bus.instanceId, host: bus.host, endpoints, sends };
}
