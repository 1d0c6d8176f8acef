/// <reference types="node" preserve="true" />
/**
 * `@missive/core`: what an application needs: message contracts, the bus and its endpoints,
 * middleware, errors, sagas, the outbox and inbox, observability, and the in-process memory
 * transport. Writing a transport (its contract, delivery buffer, settle-once delivery, topic
 * matching, URL lookup, command ownership) is `@missive/core/transport`.
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
// The ground: errors, time, logging.
export {
  ErrorCode,
  MissiveError,
  ConfigurationError,
  DecodeError,
  ValidationError,
  UnknownMessageTypeError,
  UnrecoverableError,
  HandlerError,
  RequestTimeoutError,
  RemoteHandlerError,
  UnroutableError,
  PublishRejectedError,
  MessageTooLargeError,
  PoisonMessageError,
  MessageExpiredError,
  BusStateError,
  TransportError,
  ConcurrencyConflictError,
  isRetryable,
  type MissiveErrorOptions,
  type ValidationIssue,
} from './errors.js';
export { systemClock, sleep, type Clock, type TimerHandle } from './clock.js';
export {
  consoleLogger,
  silentLogger,
  childLogger,
  redactUrl,
  type Logger,
  type LogLevel,
  type LogFields,
  type LogMethod,
  type ConsoleLoggerOptions,
} from './logger.js';

// Messages: contracts, the envelope, the codec.
export {
  defineEvent,
  defineCommand,
  defineQuery,
  type ContractKind,
  type Upcaster,
  type ContractOptions,
  type MessageContract,
  type EventContract,
  type CommandContract,
  type QueryContract,
  type AnyContract,
  type PayloadInput,
  type Payload,
  type ReplyInput,
  type Reply,
} from './contracts/contract.js';
export { validate } from './contracts/validate.js';
export { createEnvelope, sourceOf, type Envelope, type EnvelopeInit, type MessageKind } from './message/envelope.js';
export { jsonCodec, type Codec, type JsonCodecOptions } from './message/codec.js';
export type { BinaryForm } from './message/binary-form.js';
export { Header } from './message/headers.js';

// Policies an endpoint is configured with.
export { defaultRetryOptions, type RetryOptions, type DelayedRetryOptions } from './policies/retry-policy.js';
export type { CircuitBreakerOptions, CircuitState } from './policies/circuit-breaker.js';
export type { RateLimitOptions } from './policies/rate-limiter.js';

// The bus, endpoints, handlers and middleware.
export { Bus, createBus } from './bus/bus.js';
export type {
  BusOptions,
  BusEvents,
  BusStats,
  BusDescription,
  BusComponent,
  PublishContext,
  PublishMiddleware,
  ScheduleOptions,
} from './bus/bus.js';
export { stopOnSignals, type StopOnSignalsOptions, type Stoppable } from './bus/stop-on-signals.js';
export type { EndpointStats } from './bus/bus-options.js';
export type { EndpointBuilder, EndpointOptions, HandlerOptions, ConsumeMiddleware, ExpiredAction } from './consume/endpoint.js';
export type {
  PublishOptions,
  SendOptions,
  RequestOptions,
  Sender,
  MessageContext,
  ReplyContext,
  Handler,
  Responder,
  TapHandler,
  DeliveryFacts,
  ConsumeContext,
} from './consume/context.js';
export type { Middleware } from './consume/pipeline.js';
export type { RetryEvent } from './consume/steps/retry.js';

// What a bus's transport reports, and its dead letters.
export type {
  Transport,
  TransportMessage,
  TransportCapabilities,
  TransportStatus,
  QueueInfo,
  DeadLetter,
  DeadLetterFailure,
} from './transport/transport.js';
export { CommandOwnerConflictError, type CommandOwner } from './transport/command-owners.js';
export { DeadLetterQueue, type DeadLetterSelector } from './transport/dead-letter-queue.js';
export type { TransportFactories } from './transport/transport-url.js';
export { MemoryBroker } from './transport/memory/memory-broker.js';

// Sagas, the outbox and inbox, their stores.
export type {
  MessageStore,
  Commit,
  CommitResult,
  OutboxRecord,
  OutboxLease,
  OutboxDestination,
  SagaRecord,
  SagaStatus,
  SagaTimeoutRecord,
  SagaCompensationRecord,
  SagaListOptions,
} from './workflows/message-store.js';
export { MemoryMessageStore, type MemoryTx } from './workflows/memory-store.js';
export type { Outbox, OutboxOptions, OutboxTransaction } from './workflows/outbox.js';
export {
  defineSaga,
  type SagaContext,
  type SagaDefinition,
  type SagaStep,
  type SagaStartStep,
  type MissingInstanceRule,
} from './workflows/saga.js';
export { sagaTimeoutContract, type SagaOptions, type SagaTimeoutPayload } from './workflows/saga-runtime.js';

// Observability.
export type { HealthReport, EndpointHealth } from './observe/health.js';
export type { HandledEvent, HandledObserver, HandledOutcome } from './observe/handled.js';
export { serveHealth, type HealthServer, type HealthServerOptions, type HealthSource } from './observe/health-server.js';
export { Metric } from './observe/metrics.js';
export { DURATION_BUCKETS, MessageDurations, type DurationCell, type DurationHistogram } from './observe/durations.js';
export { Attr as TraceAttribute, INSTRUMENTATION_SCOPE } from './observe/tracing.js';
export { traceIdOf } from './observe/trace-context.js';
export { faultOf, faultTypeOf, type Fault } from './observe/fault-events.js';
