/// <reference types="node" preserve="true" />
/**
 * `@missive/core`: message contracts, the envelope and codec, the bus, the pipeline and its
 * middleware, the transport contract (types) and the in-process memory transport. What a transport
 * package needs besides (delivery buffer, settle-once delivery, URL lookup) is `@missive/core/transport`.
 *
 * @example
 * ```ts
 * import { createBus, defineEvent } from '@missive/core';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent('shop.order-placed', z.object({ orderId: z.string() }));
 * const bus = createBus({ service: 'shop', transport: 'memory://' });
 * bus.endpoint('billing', (e) => e.on(OrderPlaced, async (event) => console.log(event.orderId)));
 * await bus.start();
 * await bus.publish(OrderPlaced, { orderId: 'o-1' });
 * ```
 * @module
 */
export * from './errors.js';
export * from './clock.js';
export * from './headers.js';
export * from './logger.js';
export type * from './transport.js';
export { CommandOwnerConflictError, type CommandOwnership, type CommandOwner, type CommandClaim, type CommandClaimResult } from './command-owners.js';
export * from './envelope.js';
export * from './codec.js';
export * from './contract.js';
export * from './validate.js';
export * from './topic-pattern.js';
export * from './pipeline.js';
export * from './retry-policy.js';
export { stopOnSignals, type StopOnSignalsOptions, type Stoppable } from './stop-on-signals.js';
export * from './circuit-breaker.js';
export * from './rate-limiter.js';
export * from './events.js';
export type * from './context.js';
export type { EndpointBuilder, EndpointOptions, HandlerOptions, ConsumeMiddleware, ExpiredAction } from './endpoint.js';
export type { EndpointStats } from './endpoint-runtime.js';
export type { RetryEvent } from './middleware/retry.js';
export * from './dead-letter-queue.js';
export type { TransportFactories } from './transport-url.js';
export { MemoryBroker } from './memory/memory-broker.js';
export { Bus, createBus } from './bus.js';
export type { BusOptions, BusEvents, BusStats, BusDescription, PublishContext, PublishMiddleware, ScheduleOptions } from './bus.js';
export type * from './message-store.js';
export { MemoryMessageStore, type MemoryTx } from './memory/memory-store.js';
export { createOutbox, type Outbox, type OutboxOptions, type OutboxTransaction } from './outbox.js';
export { defineSaga, type SagaContext, type SagaDefinition, type SagaStep, type SagaStartStep, type MissingInstanceRule } from './saga.js';
export { sagaTimeoutContract, type SagaOptions, type SagaTimeoutPayload } from './saga-runtime.js';
export type { BusComponent } from './bus.js';
export type { HealthReport, EndpointHealth } from './observe/health.js';
export type { HandledEvent, HandledOutcome } from './observe/handled.js';
export { serveHealth, type HealthServer, type HealthServerOptions, type HealthSource } from './observe/health-server.js';
export { Metric } from './observe/metrics.js';
export { Attr as TraceAttribute, INSTRUMENTATION_SCOPE } from './observe/tracing.js';
export { traceIdOf } from './observe/trace-context.js';
export { faultOf, faultTypeOf, type Fault } from './observe/fault-events.js';
