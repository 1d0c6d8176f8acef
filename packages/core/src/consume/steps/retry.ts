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

/** An attempt: undefined when it ended at once (the handler returned no promise), else its promise. */
export type Attempt = (state: ConsumeState) => Promise<void> | undefined;

/**
 * The step: runs `attempt` (the rest of the pipeline) for the state as the route's policy says.
 * `attempt` is the same function for every delivery, so a retry costs no closure per message. An
 * attempt that ends at once and succeeds costs no promise: the step returns undefined then; it
 * throws or rejects with the error that ends the delivery.
 */
export function retry(
  onRetry: (event: RetryEvent, state: ConsumeState) => void,
): (state: ConsumeState, attempt: Attempt) => Promise<void> | undefined {
  /** After a failed attempt: true to run another at once, false when the delivery is settled otherwise; throws the error that ends it. */
  function again(state: ConsumeState, thrown: unknown): boolean {
    const error = toError(thrown);
    if (!isRetryable(error) || state.aborted) throw error;
    const policy = state.route.retry;
    const base = { endpoint: state.endpoint, messageId: state.envelope.id, type: state.envelope.type, attempt: state.attempt, error };
    if (state.invocations <= policy.immediate) {
      onRetry({ ...base, mode: 'immediate', delayMs: 0 }, state);
      return true;
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
      return false;
    }
    throw error;
  }

  function run(state: ConsumeState, attempt: Attempt): Promise<void> | undefined {
    state.invocations++;
    state.attempt = state.priorAttempts + state.invocations;
    return attempt(state);
  }

  /** The attempts after the first failed one. */
  async function retrying(state: ConsumeState, attempt: Attempt, thrown: unknown): Promise<void> {
    while (again(state, thrown)) {
      try {
        await run(state, attempt);
        return;
      } catch (error) {
        thrown = error;
      }
    }
  }

  return function firstAttempt(state, attempt) {
    const policy = state.route.retry;
    // No more attempts than the policy makes per delivery can have run before (an untrusted header).
    const most = (state.deliveryCount - 1) * (policy.immediate + 1);
    if (state.priorAttempts > most) state.priorAttempts = most;
    let pending: Promise<void> | undefined;
    try {
      pending = run(state, attempt);
    } catch (thrown) {
      return retrying(state, attempt, thrown);
    }
    return pending?.then(undefined, (thrown: unknown) => retrying(state, attempt, thrown));
  };
}
