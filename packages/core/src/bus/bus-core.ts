/**
 * The bus's inner seam: what its parts receive from it instead of the public `Bus`. Endpoint
 * runtimes get {@link BusInternals}; the outbox and the saga runtime get {@link BusCore}. Neither
 * is exported to applications, so building and dispatching prepared messages, and the bus's
 * environment, stay off the public `Bus` and nothing below the bus imports `bus.ts`.
 *
 * @example
 * ```ts
 * // inside createOutbox(core, store): the relay starts with the bus and sends what was committed
 * core.attach(relay);
 * const record = core.prepare(parent, OrderPlaced, { orderId: 'o-1' }, undefined);
 * await core.dispatchPrepared(record);
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { CircuitState } from '../policies/circuit-breaker.js';
import type { Codec } from '../message/codec.js';
import type { Envelope } from '../message/envelope.js';
import type { CommandContract, EventContract, QueryContract } from '../contracts/contract.js';
import type { ConsumeContext, PublishOptions, RequestOptions, SendOptions } from '../consume/context.js';
import type { EndpointBuilder, EndpointOptions, ExpiredAction } from '../consume/endpoint.js';
import type { Middleware } from '../consume/pipeline.js';
import type { RetryEvent } from '../consume/steps/retry.js';
import type { MessageTracing } from '../observe/tracing.js';
import type { BusMetrics } from '../observe/metrics.js';
import type { HandledObserver } from '../observe/handled.js';
import type { Fault } from '../observe/fault-events.js';
import type { Transport } from '../transport/transport.js';
import type { OutboxRecord } from '../workflows/message-store.js';

/** Where a bus is in its life. */
export type BusState = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * Something that runs alongside the bus (an outbox relay, a projection, a bridge): started after
 * the endpoints, stopped after they drained and before the transport closes. Added with `bus.attach`.
 */
export interface BusComponent {
  start(transport: Transport): Promise<void>;
  stop(): Promise<void>;
}

/** What the bus's environment gives its parts. */
export interface BusEnvironment {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly codec: Codec;
}

/** What the outbox and the saga runtime need from their bus. */
export interface BusCore {
  readonly environment: BusEnvironment;
  /** The connected transport. Throws before `start`. */
  readonly transport: Transport;
  /**
   * Builds an outgoing message synchronously, for the outbox: validated (synchronous schemas
   * only), encoded, with its destination. Nothing is sent.
   */
  prepare(
    parent: Envelope | undefined,
    contract: EventContract | CommandContract,
    payload: unknown,
    options: (SendOptions & { readonly scheduleId?: string }) | undefined,
  ): OutboxRecord;
  /**
   * Hands a prepared message to the transport. Resolves when the broker has it durably. Publish
   * middleware sees it (decoded) on the way; the bytes sent are the ones committed.
   */
  dispatchPrepared(record: OutboxRecord): Promise<void>;
  /** Adds a component that starts and stops with the bus. Before `start` only. */
  attach(component: BusComponent): void;
  /** Defines an endpoint on the bus. Before `start` only. */
  endpoint(name: string, configure: (e: EndpointBuilder) => void, options?: EndpointOptions): void;
}

/** The core a bus hands its outbox and sagas: its environment, its transport (read when used), and `ops`. */
export function busCore(
  environment: BusEnvironment,
  transport: () => Transport,
  ops: Pick<BusCore, 'prepare' | 'dispatchPrepared' | 'attach' | 'endpoint'>,
): BusCore {
  return {
    environment,
    get transport() {
      return transport();
    },
    prepare: ops.prepare,
    dispatchPrepared: ops.dispatchPrepared,
    attach: ops.attach,
    endpoint: ops.endpoint,
  };
}

/** What an endpoint runtime needs from its bus. */
export interface BusInternals {
  readonly service: string;
  readonly host: string;
  readonly codec: Codec;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Spans of message handling. */
  readonly tracing: MessageTracing;
  /** Message metrics. */
  readonly metrics: BusMetrics;
  readonly transport: Transport;
  readonly middleware: readonly Middleware<ConsumeContext>[];
  /** Sends from a handler's context, carrying the conversation forward from `parent`. */
  publishFrom(parent: Envelope | undefined, contract: EventContract, payload: unknown, options?: PublishOptions): Promise<void>;
  sendFrom(parent: Envelope | undefined, contract: CommandContract, payload: unknown, options?: SendOptions): Promise<void>;
  requestFrom(parent: Envelope | undefined, query: QueryContract, payload: unknown, options?: RequestOptions): Promise<unknown>;
  /** Sends a reply (or an error reply) to the requester of `request`. */
  replyTo(request: Envelope, query: QueryContract | undefined, payload: unknown, status: 'ok' | 'error'): Promise<void>;
  onRetry(event: RetryEvent): void;
  onDeadLettered(event: { endpoint: string; messageId: string; type: string; reason: string; error: Error }): void;
  onExpired(event: { endpoint: string; messageId: string; type: string; action: ExpiredAction }): void;
  onCircuit(event: { endpoint: string; state: CircuitState; previous: CircuitState }): void;
  /** Whether anyone observes settled deliveries: `handled` listeners or observers (read per delivery, so one added later counts). */
  observesHandled(): boolean;
  /** Reports a settled delivery to the observers, and as a `handled` event to its listeners when there are any. */
  readonly onHandled: HandledObserver;
  /** Publishes the fault event of a dead letter; absent unless the bus has `faultEvents`. */
  readonly publishFault: ((parent: Envelope | undefined, fault: Fault) => Promise<void>) | undefined;
  /** The endpoint's consumer failed and consumes no more (see `BusEvents['consumer-failed']`). */
  onConsumerFailed(event: { endpoint: string; error: Error }): void;
}
