/**
 * The retry step: runs the rest of the pipeline, and when it throws a retryable error runs it
 * again at once up to the route's `immediate` count, then asks for a delayed redelivery (the
 * delivery is nacked with a delay and the attempt counters in its headers), until the route's
 * delayed attempts are spent; the last error then goes on to the dead-letter queue. Errors whose
 * `retryable` is false (validation, unknown type, `UnrecoverableError`) skip all retries.
 *
 * @example
 * ```ts
 * const retrying = retry((event) => emitter.emit('retry', event));
 * await retrying(state, (s) => runHandler(s)); // runs the handler attempt as the policy says
 * ```
 * @module
 */
import type { ConsumeState } from '../consume-state.js';
import { isRetryable, toError } from '../../errors.js';
import { Header } from '../../message/headers.js';

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

/**
 * The step: runs `attempt` (the rest of the pipeline) for the state as the route's policy says.
 * `attempt` is the same function for every delivery, so a retry costs no closure per message.
 */
export function retry(
  onRetry: (event: RetryEvent, state: ConsumeState) => void,
): (state: ConsumeState, attempt: (state: ConsumeState) => Promise<void>) => Promise<void> {
  return async function retrying(state, attempt) {
    const policy = state.route.retry;
    // No more attempts than the policy makes per delivery can have run before (an untrusted header).
    const most = (state.deliveryCount - 1) * (policy.immediate + 1);
    if (state.priorAttempts > most) state.priorAttempts = most;
    for (;;) {
      state.invocations++;
      state.attempt = state.priorAttempts + state.invocations;
      try {
        await attempt(state);
        return;
      } catch (thrown) {
        const error = toError(thrown);
        if (!isRetryable(error) || state.aborted) throw error;
        const base = { endpoint: state.endpoint, messageId: state.envelope.id, type: state.envelope.type, attempt: state.attempt, error };
        if (state.invocations <= policy.immediate) {
          onRetry({ ...base, mode: 'immediate', delayMs: 0 }, state);
          continue;
        }
        if (state.redeliveries < policy.delayedAttempts) {
          const delayMs = policy.delayFor(state.redeliveries + 1);
          state.settlement = {
            kind: 'redeliver',
            delayMs,
            error,
            headers: {
              ...state.received.message.headers,
              [Header.Attempts]: String(state.totalAttempts),
              [Header.Redeliveries]: String(state.redeliveries + 1),
            },
          };
          onRetry({ ...base, mode: 'delayed', delayMs }, state);
          return;
        }
        throw error;
      }
    }
  };
}
