/**
 * Dead-letters a message that was delivered more than `maxDeliveries` times without the handler
 * ever finishing (each crash of its consumer counts), before the handler runs again.
 *
 * @example
 * ```ts
 * const step = deliveryLimit(20);
 * ```
 * @module
 */
import type { ConsumeState } from '../consume-state.js';
import { PoisonMessageError } from '../errors.js';
import type { Middleware } from '../pipeline.js';

/** The step. */
export function deliveryLimit(maxDeliveries: number): Middleware<ConsumeState> {
  return async function deliveryLimitStep(state, next) {
    const { deliveryCount, message } = state.delivery;
    if (deliveryCount > maxDeliveries) throw new PoisonMessageError(message.id, deliveryCount, maxDeliveries);
    await next();
  };
}
