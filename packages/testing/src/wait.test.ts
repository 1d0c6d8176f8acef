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

  it('opens the quiet window at the first quiet probe, so one late quiet probe after a busy one does not end it', async () => {
    // The first quiet answer takes 60 ms (a stalled machine): it says nothing of the time before it.
    let probes = 0;
    const busy = () => (++probes < 5 ? true : probes === 5 ? new Promise<boolean>((r) => setTimeout(() => r(false), 60)) : false);
    const waiter = createWaiter({ quietMs: 30, busy });
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
