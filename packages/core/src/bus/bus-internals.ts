/**
 * The internals a bus hands its endpoints, sagas and outbox ({@link BusInternals}, see
 * `bus-core.ts`), wired to the bus's parts: its outgoing side, its requests and its event emitter.
 * Also what a consumer failure does: it is logged, then emitted as `consumer-failed`, or, when
 * nobody listens, sets a failing exit code.
 *
 * @example
 * ```ts
 * const internals = busInternals({ service, host, codec, clock, logger, tracing, metrics, middleware, outgoing, requests, emitter, handledObservers, transport });
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Codec } from '../message/codec.js';
import type { ConsumeContext } from '../consume/context.js';
import type { Middleware } from '../consume/pipeline.js';
import type { Transport } from '../transport/transport.js';
import type { BusMetrics } from '../observe/metrics.js';
import type { MessageTracing } from '../observe/tracing.js';
import { handledEventOf, type HandledObserver } from '../observe/handled.js';
import type { BusInternals } from './bus-core.js';
import type { BusEvents } from './bus-options.js';
import type { TypedEmitter } from './events.js';
import type { Outgoing } from './outgoing.js';
import type { Requests } from './request-reply.js';

/** The parts of a bus its internals are wired to. */
export interface BusParts {
  readonly service: string;
  readonly host: string;
  readonly codec: Codec;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tracing: MessageTracing;
  readonly metrics: BusMetrics;
  /** The bus's consume middleware. */
  readonly middleware: readonly Middleware<ConsumeContext>[];
  readonly outgoing: Outgoing;
  readonly requests: Requests;
  readonly emitter: TypedEmitter<BusEvents>;
  /** The bus's handled observers (`bus.observeHandled`); the list is replaced, never changed in place, when one is added or removed. */
  readonly handledObservers: { readonly list: readonly HandledObserver[] };
  /** The connected transport; throws before `start`. */
  transport(): Transport;
}

/** The internals of the bus made of `parts`. */
export function busInternals(parts: BusParts): BusInternals {
  const { outgoing, requests, emitter, handledObservers } = parts;
  const onHandled: HandledObserver = (
    service,
    endpoint,
    envelope,
    messageId,
    type,
    attempt,
    outcome,
    durationMs,
    settledAt,
    error,
    reason,
    replayed,
  ) => {
    const observers = handledObservers.list;
    for (let i = 0; i < observers.length; i++) {
      try {
        observers[i]!(service, endpoint, envelope, messageId, type, attempt, outcome, durationMs, settledAt, error, reason, replayed);
      } catch (observerError) {
        parts.logger.error({ err: observerError }, 'a handled observer threw');
      }
    }
    if (emitter.has('handled'))
      emitter.emit(
        'handled',
        handledEventOf(service, endpoint, envelope, messageId, type, attempt, outcome, durationMs, settledAt, error, reason, replayed),
      );
  };
  return {
    service: parts.service,
    host: parts.host,
    codec: parts.codec,
    clock: parts.clock,
    logger: parts.logger,
    tracing: parts.tracing,
    metrics: parts.metrics,
    get transport() {
      return parts.transport();
    },
    middleware: parts.middleware,
    publishFrom: (parent, contract, payload, options) => outgoing.publishFrom(parent, contract, payload, options),
    sendFrom: (parent, contract, payload, options) => outgoing.sendFrom(parent, contract, payload, options),
    requestFrom: (parent, query, payload, options) => requests.request(parent, query, payload, options),
    replyTo: (request, query, payload, status) => outgoing.sendReply(request, query, payload, status),
    onRetry: (event) => emitter.emit('retry', event),
    onDeadLettered: (event) => emitter.emit('dead-lettered', event),
    onExpired: (event) => emitter.emit('expired', event),
    onCircuit: (event) => emitter.emit('circuit', event),
    observesHandled: () => handledObservers.list.length > 0 || emitter.has('handled'),
    onHandled,
    publishFault: outgoing.publishFault,
    onConsumerFailed: (event) => consumerFailed(parts.logger, emitter, event),
  };
}

/** Logs a consumer failure and emits `consumer-failed`; with no listener, sets a failing exit code. */
export function consumerFailed(
  logger: Logger,
  emitter: TypedEmitter<BusEvents>,
  event: { readonly endpoint: string; readonly error: Error },
): void {
  logger.error({ endpoint: event.endpoint, err: event.error }, 'consumer failed; the endpoint consumes no more messages');
  if (emitter.has('consumer-failed')) {
    emitter.emit('consumer-failed', event);
    return;
  }
  if (!process.exitCode) process.exitCode = 1;
}
