import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../clock.js';
import { MemoryBroker } from './memory-broker.js';

/**
 * A clock whose timers fire before its time reaches their deadline, as node's timers can (they run
 * on the event loop's cached time, which may be a millisecond behind `Date.now()` when set).
 */
function earlyClock(): Clock {
  return {
    now: () => 1_000,
    setTimeout: (fn: () => void): TimerHandle => setImmediate(fn) as unknown as TimerHandle,
    clearTimeout: (handle: TimerHandle) => clearImmediate(handle as unknown as NodeJS.Immediate),
  };
}

describe('memory broker', () => {
  it('delivers a message nacked with a delay once its timer fires, even if the clock says it is not due yet', async () => {
    const transport = new MemoryBroker({ clock: earlyClock() }).transport();
    await transport.connect();
    await transport.declare({ name: 'work', topics: [] });
    await transport.send('work', { id: 'm-1', type: 'work', body: new Uint8Array([123, 125]), headers: {} });
    const consumer = transport.consume('work', { prefetch: 1 });
    const deliveries = consumer[Symbol.asyncIterator]();
    const first = await deliveries.next();
    await first.value.nack({ delayMs: 5 });
    const second = await deliveries.next();
    expect(second.value.message.id).toBe('m-1');
    expect(second.value.deliveryCount).toBe(2);
    await second.value.ack();
    await consumer.close();
    await transport.close();
  });
});
