/**
 * The message every subject carries: a small order event (about 120 bytes of JSON payload), with the
 * publish time stamped in it for latency. Missive checks it against `orderSchema`; raw clients and
 * peers carry it unchecked, as they would in practice.
 *
 * @example
 * ```ts
 * const order = makeOrder(7, 'l');
 * ```
 * @module
 */
import { z } from 'zod';
import { nowUs } from './time.js';

/** `t`: throughput phase, `l`: latency phase, `w`: warm-up. */
export type Phase = 't' | 'l' | 'w';

export interface Order {
  readonly orderId: string;
  readonly customer: string;
  readonly amount: number;
  readonly currency: string;
  readonly lines: number;
  readonly phase: Phase;
  readonly sentAt: number;
}

export const orderSchema = z.object({
  orderId: z.string().min(1),
  customer: z.string(),
  amount: z.number().nonnegative(),
  currency: z.string().length(3),
  lines: z.number().int(),
  phase: z.enum(['t', 'l', 'w']),
  sentAt: z.number(),
});

/** The topic / event name every subject uses. */
export const ORDER_TOPIC = 'bench.order-placed';

export function makeOrder(n: number, phase: Phase): Order {
  return {
    orderId: `o-${n}`,
    customer: 'c-4711-benchmark-customer',
    amount: 42.5 + (n % 100),
    currency: 'EUR',
    lines: 3,
    phase,
    sentAt: nowUs(),
  };
}
