/**
 * The retry step: runs the rest of the pipeline, and when it throws a retryable error runs it
 * again at once up to the route's `immediate` count, then asks for a delayed redelivery (the
 * delivery is nacked with a delay and the attempt counters in its headers), until the route's
 * delayed attempts are spent; the last error then goes on to the dead-letter queue. Errors whose
 * `retryable` is false (validation, unknown type, `UnrecoverableError`) skip all retries.
 *
 * @example
 * ```ts
 * const step = retry((event) => emitter.emit('retry', event));
 * ```
 * @module
 */
import type { ConsumeState } from '../consume-state.js';
import { isRetryable, toError } from '../errors.js';
import { Header } from '../headers.js';
import type { Middleware } from '../pipeline.js';

/** What the retry step reports each time it retries. */
export interface RetryEvent {
  readonly endpoint: string;
  readonly messageId: string;
  readonly type: string;
  /** The attempt that failed. */
  readonly attempt: number;
  readonly error: Error;
  /** `immediate`, or `delayed` with the delay. */
  readonly mode: 'immediate' | 'delayed';
  readonly delayMs: number;
}

/** The step. */
export function retry(onRetry: (event: RetryEvent) => void): Middleware<ConsumeState> {
  return async function retryStep(state, next) {
    const policy = state.route.retry;
    for (;;) {
      state.invocations++;
      state.attempt = state.priorAttempts + state.invocations;
      try {
        await next();
        return;
      } catch (thrown) {
        const error = toError(thrown);
        if (!isRetryable(error) || state.aborted) throw error;
        const base = { endpoint: state.endpoint, messageId: state.envelope.id, type: state.envelope.type, attempt: state.attempt, error };
        if (state.invocations <= policy.immediate) {
          onRetry({ ...base, mode: 'immediate', delayMs: 0 });
          continue;
        }
        if (state.redeliveries < policy.delayedAttempts) {
          const delayMs = policy.delayFor(state.redeliveries + 1);
          state.settlement = {
            kind: 'redeliver',
            delayMs,
            error,
            headers: {
              ...state.delivery.message.headers,
              [Header.Attempts]: String(state.totalAttempts),
              [Header.Redeliveries]: String(state.redeliveries + 1),
            },
          };
          onRetry({ ...base, mode: 'delayed', delayMs });
          return;
        }
        throw error;
      }
    }
  };
}
