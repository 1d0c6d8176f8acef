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
export * from './message/headers.js';
export * from './logger.js';
export type * from './transport/transport.js';
export { CommandOwnerConflictError, type CommandOwnership, type CommandOwner, type CommandClaim, type CommandClaimResult } from './transport/command-owners.js';
export * from './message/envelope.js';
export * from './message/codec.js';
export * from './contracts/contract.js';
export * from './contracts/validate.js';
export * from './transport/topic-pattern.js';
export * from './consume/pipeline.js';
export * from './policies/retry-policy.js';
export { stopOnSignals, type StopOnSignalsOptions, type Stoppable } from './bus/stop-on-signals.js';
export * from './policies/circuit-breaker.js';
export * from './policies/rate-limiter.js';
export * from './bus/events.js';
export type * from './consume/context.js';
export type { EndpointBuilder, EndpointOptions, HandlerOptions, ConsumeMiddleware, ExpiredAction } from './consume/endpoint.js';
export type { EndpointStats } from './bus/endpoint-runtime.js';
export type { RetryEvent } from './consume/steps/retry.js';
export * from './transport/dead-letter-queue.js';
export type { TransportFactories } from './transport/transport-url.js';
export { MemoryBroker } from './transport/memory/memory-broker.js';
export { Bus, createBus } from './bus/bus.js';
export type { BusOptions, BusEvents, BusStats, BusDescription, PublishContext, PublishMiddleware, ScheduleOptions } from './bus/bus.js';
export type * from './workflows/message-store.js';
export { MemoryMessageStore, type MemoryTx } from './workflows/memory-store.js';
export type { Outbox, OutboxOptions, OutboxTransaction } from './workflows/outbox.js';
export { defineSaga, type SagaContext, type SagaDefinition, type SagaStep, type SagaStartStep, type MissingInstanceRule } from './workflows/saga.js';
export { sagaTimeoutContract, type SagaOptions, type SagaTimeoutPayload } from './workflows/saga-runtime.js';
export type { BusComponent } from './bus/bus.js';
export type { HealthReport, EndpointHealth } from './observe/health.js';
export type { HandledEvent, HandledOutcome } from './observe/handled.js';
export { serveHealth, type HealthServer, type HealthServerOptions, type HealthSource } from './observe/health-server.js';
export { Metric } from './observe/metrics.js';
export { Attr as TraceAttribute, INSTRUMENTATION_SCOPE } from './observe/tracing.js';
export { traceIdOf } from './observe/trace-context.js';
export { faultOf, faultTypeOf, type Fault } from './observe/fault-events.js';
