/**
 * Reading deliveries by hand in the NATS tests: the next `n` of a consumer's iterator, ending early
 * if the consumer ends.
 *
 * @example
 * ```ts
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * const [first, second] = await take(consumer[Symbol.asyncIterator](), 2);
 * ```
 * @module
 */
import type { Delivery } from '@missive/core/transport';

/** The next `n` deliveries of `iterator`, not settled (fewer if the consumer ends). */
export async function take(iterator: AsyncIterator<Delivery>, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  while (out.length < n) {
    const next = await iterator.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}
