import { describe, expect, it } from 'vitest';
import { staleness } from './queues.js';

const queue = { name: 'refunds-v1', depth: 3, inFlight: 0, deadLetters: 0, topics: [] };

describe('stale queue flag', () => {
  it('flags a queue with messages and no consumer for longer than the limit, with how long', () => {
    expect(staleness({ ...queue, consumers: 0, idleSince: 0 }, 12 * 60_000, 300_000)).toBe('3 waiting and no consumer for 12m');
    expect(staleness({ ...queue, consumers: 0, idleSince: 0 }, 100_000, 300_000)).toBeUndefined();
  });

  it('says so when the transport cannot tell since when (RabbitMQ)', () => {
    expect(staleness({ ...queue, consumers: 0 }, 0, 300_000)).toBe('3 waiting and no consumer (the transport cannot say since when)');
  });

  it('never flags an empty queue, a consumed one, or one whose transport reports no consumers', () => {
    expect(staleness({ ...queue, depth: 0, consumers: 0, idleSince: 0 }, 1e9, 0)).toBeUndefined();
    expect(staleness({ ...queue, consumers: 2 }, 1e9, 0)).toBeUndefined();
    expect(staleness(queue, 1e9, 0)).toBeUndefined();
  });
});
