/**
 * The consume pipeline of one endpoint: what runs for each delivery, in this order.
 *
 * 1. A delivery whose metadata the transport could not read (`Delivery.unreadable`): `DecodeError`.
 *    Then the delivery limit: past `maxDeliveries`, `PoisonMessageError`.
 * 2. Decoding and routing: `DecodeError`, `UnknownMessageTypeError`.
 * 3. Expiry: an expired message is dropped, or fails with `MessageExpiredError`.
 * 4. Retries, around everything below: each run of it is one handler attempt.
 * 5. The attempt: the runtime's observer (counters, circuit breaker) around the bus's and then the
 *    endpoint's middleware, around payload validation (upcasters, schema) and the handler.
 *
 * An error thrown out of the pipeline dead-letters the delivery; the settlement on the state says
 * how to settle it otherwise. The built-in steps are plain calls rather than middleware, so a
 * delivery costs no closure and no promise for each of them, and the user's middleware is composed
 * once, when the pipeline is built.
 *
 * @example
 * ```ts
 * const pipeline = consumePipeline({ definition, codec, clock, onExpired, onRetry, observe, middleware, handler });
 * await pipeline(state); // throws (or rejects with) the error that dead-letters the delivery; undefined when done at once
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import type { Codec } from '../message/codec.js';
import type { ConsumeState } from './consume-state.js';
import type { EndpointDefinition, ExpiredAction } from './endpoint.js';
import { DecodeError, rejection } from '../errors.js';
import { decodeDelivery } from './steps/decode.js';
import { checkDeliveryLimit } from './steps/delivery-limit.js';
import { expiry } from './steps/expiry.js';
import { retry, type Attempt, type RetryEvent } from './steps/retry.js';
import { validatePayload } from './steps/validate-payload.js';
import { compose, type Middleware } from './pipeline.js';

/** What {@link consumePipeline} is built from. */
export interface ConsumePipelineParts {
  readonly definition: EndpointDefinition;
  readonly codec: Codec;
  readonly clock: Clock;
  /** Told of every expired message and what is done with it. */
  readonly onExpired: (state: ConsumeState, action: ExpiredAction) => void;
  /** Told of every retry. */
  readonly onRetry: (event: RetryEvent, state: ConsumeState) => void;
  /**
   * Runs one handler attempt (`attempt`) and notes how it went; rethrows its error. Undefined when
   * the attempt ended at once (see {@link Attempt}), else a promise.
   */
  readonly observe: (state: ConsumeState, attempt: Attempt) => Promise<void> | undefined;
  /** The bus's consume middleware, then the endpoint's. */
  readonly middleware: readonly Middleware<ConsumeState>[];
  /** Calls the handler of `state.route` with `state.payload`: undefined when the handler returned no promise (or thenable), else a promise. */
  readonly handler: (state: ConsumeState) => Promise<void> | undefined;
}

const DONE: Promise<void> = Promise.resolve();

/**
 * Builds the pipeline. The function it returns throws, or rejects with, the error that dead-letters
 * the delivery; it returns undefined when the delivery was handled without waiting for anything (a
 * handler that returned no promise, no asynchronous schema or middleware), so that costs no promise.
 */
export function consumePipeline(parts: ConsumePipelineParts): (state: ConsumeState) => Promise<void> | undefined {
  const { definition, codec, handler, observe } = parts;
  const expired = expiry(parts.clock, definition.expired, parts.onExpired);
  const retrying = retry(parts.onRetry);
  // Validation runs inside the user's middleware, right before the handler.
  const handle = (state: ConsumeState): Promise<void> | undefined => {
    const pending = validatePayload(state);
    return pending === undefined ? handler(state) : pending.then(() => handler(state));
  };
  // Middleware's `next` returns a promise, and fails by rejecting.
  const inner: Attempt =
    parts.middleware.length === 0
      ? handle
      : compose(parts.middleware, (state) => {
          try {
            return handle(state) ?? DONE;
          } catch (error) {
            return rejection(error);
          }
        });
  const attempt: Attempt = (state) => observe(state, inner);
  return function pipeline(state) {
    const unreadable = state.received.unreadable;
    if (unreadable !== undefined) throw new DecodeError(unreadable);
    checkDeliveryLimit(state, definition.maxDeliveries);
    decodeDelivery(state, codec, definition);
    if (expired(state)) return undefined;
    return retrying(state, attempt);
  };
}
