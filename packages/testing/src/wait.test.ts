import { describe, expect, it } from 'vitest';
import { createWaiter } from './wait.js';

describe('waiter, real clock: settle is a quiet period measured on the system', () => {
  it('waits while busy() says work is under way, then for the quiet period after it stops', async () => {
    let probes = 0;
    const waiter = createWaiter({ quietMs: 30, busy: () => ++probes < 5 });
    await waiter.settle();
    // Busy for four probes; then at least one more probe saw it quiet before settle returned.
    expect(probes).toBeGreaterThan(5);
  });

  it('measures the quiet period from the first quiet probe: a stall before it does not count as quiet', async () => {
    let probes = 0;
    const waiter = createWaiter({
      quietMs: 30,
      busy: async () => {
        probes++;
        // The first quiet probe comes late (a stalled event loop): the work may have gone on until just before it.
        if (probes === 5) await new Promise((resolve) => setTimeout(resolve, 60));
        return probes < 5;
      },
    });
    await waiter.settle();
    expect(probes).toBeGreaterThan(5);
  });

  it('waits while the system makes progress (activity grows), and returns once it stops', async () => {
    let progress = 0;
    const waiter = createWaiter({ quietMs: 30, activity: () => (progress < 8 ? ++progress : progress) });
    await waiter.settle();
    expect(progress).toBe(8);
  });

  it('fails, naming why, when the system never becomes quiet', async () => {
    const waiter = createWaiter({ quietMs: 10, timeoutMs: 200, busy: () => true });
    await expect(waiter.settle()).rejects.toThrow('did not become quiet within 200 ms (still busy)');
  });
});
