/**
 * Dead-letters a message that was delivered more than `maxDeliveries` times without the handler
 * ever finishing (each crash of its consumer counts), before the handler runs again.
 *
 * @example
 * ```ts
 * checkDeliveryLimit(state, 20); // throws PoisonMessageError on the 21st delivery
 * ```
 * @module
 */
import type { ConsumeState } from '../consume-state.js';
import { PoisonMessageError } from '../../errors.js';

/** The step: throws `PoisonMessageError` when the delivery is past the limit. */
export function checkDeliveryLimit(state: ConsumeState, maxDeliveries: number): void {
  const deliveryCount = state.deliveryCount; // clamped: see readDeliveryMetadata
  if (deliveryCount > maxDeliveries) throw new PoisonMessageError(state.received.message.id, deliveryCount, maxDeliveries);
}
