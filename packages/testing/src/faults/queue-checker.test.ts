import { describe, expect, it } from 'vitest';
import { checkQueue, QueueHistory } from './queue-checker.js';

describe('total-queue checker', () => {
  it('reports lost, unexpected and duplicated, and is valid only without lost or unexpected', async () => {
    const h = new QueueHistory();
    await h.publish('a', async () => undefined);
    await h.publish('b', async () => undefined);
    await h.publish('c', () => Promise.reject(new Error('broker down')));
    h.attempt('d'); // never resolved
    h.deliver('a');
    h.deliver('a');
    h.effect('a');
    h.deliver('c'); // failed publish that arrived anyway: allowed
    h.deliver('d');
    expect(checkQueue(h)).toMatchObject({
      attempted: 4,
      confirmed: 2,
      failed: 1,
      delivered: 3,
      deliveries: 4,
      lost: ['b'],
      unexpected: [],
      duplicated: ['a'],
      recovered: 2,
      valid: false,
    });
    h.deliver('b');
    h.deliver('zz');
    expect(checkQueue(h)).toMatchObject({ lost: [], unexpected: ['zz'], valid: false });
    const ok = new QueueHistory();
    await ok.publish('x', async () => undefined);
    ok.deliver('x');
    ok.effect('x');
    ok.effect('x');
    expect(checkQueue(ok)).toMatchObject({ valid: true, duplicatedEffects: ['x'] });
    expect(ok.allConfirmedDone()).toBe(true);
  });
});
