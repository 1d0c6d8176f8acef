/**
 * Keeps expired messages from their handler. By the endpoint's option an expired message is
 * dropped (acked and counted) or dead-lettered with `EXPIRED`; an expired query is always
 * dropped, since its requester has given up.
 *
 * @example
 * ```ts
 * const step = expiry(clock, 'dead-letter', () => stats.expired++);
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import type { ConsumeState } from '../consume-state.js';
import type { ExpiredAction } from '../endpoint.js';
import { MessageExpiredError } from '../errors.js';
import type { Middleware } from '../pipeline.js';

/** The step; `onExpired` is told of every expired message. */
export function expiry(clock: Clock, action: ExpiredAction, onExpired: (state: ConsumeState, action: ExpiredAction) => void): Middleware<ConsumeState> {
  return async function expiryStep(state, next) {
    const expiresAt = state.envelope.expiresat;
    if (expiresAt !== undefined) {
      const at = Date.parse(expiresAt);
      if (at <= clock.now()) {
        const act: ExpiredAction = state.envelope.messagekind === 'query' ? 'drop' : action;
        onExpired(state, act);
        if (act === 'dead-letter') throw new MessageExpiredError(state.envelope.type, at);
        state.settlement = { kind: 'drop', reason: 'expired' };
        return;
      }
    }
    await next();
  };
}
