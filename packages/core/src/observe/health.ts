/**
 * The bus's health, as Kubernetes-style probes read it. Liveness: the bus is not broken beyond
 * repair (it is starting or started). Readiness: it is started, its transport is connected, and
 * every endpoint's consumer is running and ready; each reason it is not is spelled out. Circuits,
 * the last handler error and the outbox relay's lag are reported alongside for operators; they do
 * not make the service unready (an open circuit is the bus protecting itself, and recovers alone).
 *
 * @example
 * ```ts
 * const health = bus.health();
 * if (!health.ready) console.log(health.reasons); // ['transport: rabbitmq connection lost (...); reconnecting']
 * ```
 * @module
 */
import type { CircuitState } from '../policies/circuit-breaker.js';
import type { TransportStatus } from '../transport/transport.js';

/** One endpoint's health. */
export interface EndpointHealth {
  /** The consumer loop is alive (or paused by an open circuit, which resumes it). */
  readonly running: boolean;
  /** The consumer took its share of the queue (`Consumer.ready` settled). */
  readonly ready: boolean;
  readonly circuit: CircuitState;
  readonly inFlight: number;
  /** Why the consumer stopped, when it did. */
  readonly stoppedBecause?: string | undefined;
  /** The last handler error, and when (ISO time). */
  readonly lastError?: { readonly message: string; readonly at: string } | undefined;
}

/** The bus's health. */
export interface HealthReport {
  /** The bus is starting or started: a restart would not help. */
  readonly live: boolean;
  /** The bus can take and handle messages now. */
  readonly ready: boolean;
  /** Why not ready (empty when ready). */
  readonly reasons: readonly string[];
  readonly state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped';
  readonly transport: TransportStatus;
  readonly endpoints: Readonly<Record<string, EndpointHealth>>;
  /** The last outbox message relayed: when (ISO time), and how long after its commit (ms). */
  readonly outbox?: { readonly lastRelayAt: string; readonly lastRelayLagMs: number } | undefined;
}

/** Builds a report from its parts: readiness and its reasons follow from them. */
export function healthReport(
  state: HealthReport['state'],
  transport: TransportStatus,
  endpoints: Readonly<Record<string, EndpointHealth>>,
  outbox: HealthReport['outbox'],
): HealthReport {
  const reasons: string[] = [];
  if (state !== 'started') reasons.push(`bus is ${state}`);
  if (!transport.connected) reasons.push(`transport: ${transport.reason ?? 'not connected'}`);
  for (const [name, endpoint] of Object.entries(endpoints)) {
    if (!endpoint.running)
      reasons.push(`endpoint ${name}: consumer stopped${endpoint.stoppedBecause === undefined ? '' : ` (${endpoint.stoppedBecause})`}`);
    else if (!endpoint.ready) reasons.push(`endpoint ${name}: consumer not ready yet`);
  }
  return { live: state === 'starting' || state === 'started', ready: reasons.length === 0, reasons, state, transport, endpoints, outbox };
}
