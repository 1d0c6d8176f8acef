/**
 * Keeps expired messages from their handler. By the endpoint's option an expired message is
 * dropped (acked and counted) or dead-lettered with `EXPIRED`; an expired query is always
 * dropped, since its requester has given up.
 *
 * @example
 * ```ts
 * const expired = expiry(clock, 'dead-letter', () => stats.expired++);
 * if (expired(state)) return; // dropped: the settlement says so
 * ```
 * @module
 */
import type { Clock } from '../../clock.js';
import type { ConsumeState } from '../consume-state.js';
import type { ExpiredAction } from '../endpoint.js';
import { MessageExpiredError } from '../../errors.js';

/**
 * The step; `onExpired` is told of every expired message. It returns true when the message expired
 * and is to be dropped (its settlement is set), false when it may be handled, and throws
 * `MessageExpiredError` when it expired and is to be dead-lettered.
 */
export function expiry(
  clock: Clock,
  action: ExpiredAction,
  onExpired: (state: ConsumeState, action: ExpiredAction) => void,
): (state: ConsumeState) => boolean {
  return function expired(state) {
    const expiresAt = state.envelope.expiresat;
    if (expiresAt === undefined) return false;
    const at = Date.parse(expiresAt);
    if (!(at <= clock.now())) return false; // not yet, or not a time (NaN): handle it
    const act: ExpiredAction = state.envelope.messagekind === 'query' ? 'drop' : action;
    onExpired(state, act);
    if (act === 'dead-letter') throw new MessageExpiredError(state.envelope.type, at);
    state.settlement = { kind: 'drop', reason: 'expired' };
    return true;
  };
}
