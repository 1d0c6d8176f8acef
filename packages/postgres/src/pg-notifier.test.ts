import { describe, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { Notifier } from './pg-notifier.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A host whose sends resolve only when the test says so. */
function host() {
  const sent: string[][] = [];
  const woken: string[] = [];
  const finish: (() => void)[] = [];
  return {
    sent,
    woken,
    /** Ends the oldest send still in flight. */
    complete: () => finish.shift()!(),
    host: {
      logger: silentLogger,
      isOpen: () => true,
      notified: (queue: string) => void woken.push(queue),
      send: (queues: string[]) => {
        sent.push(queues);
        return new Promise<void>((resolve) => finish.push(resolve));
      },
    },
  };
}

describe('Notifier', () => {
  it('keeps at most two NOTIFY statements in flight and sends what came meanwhile together in the next one', async () => {
    const h = host();
    const notifier = new Notifier(h.host);
    notifier.notify('a');
    notifier.notify('a');
    await turn();
    expect(h.sent).toEqual([['a']]);
    notifier.notify('b');
    await turn();
    expect(h.sent).toEqual([['a'], ['b']]);
    notifier.notify('c');
    notifier.notify('d');
    await turn();
    notifier.notify('c');
    await turn();
    expect(h.sent).toEqual([['a'], ['b']]); // two are still in flight
    h.complete();
    await turn();
    expect(h.sent).toEqual([['a'], ['b'], ['c', 'd']]);
    h.complete();
    h.complete();
    await notifier.idle();
    expect(h.sent.length).toBe(3);
  });

  it("wakes this process's consumers on the next turn, even while a NOTIFY is in flight", async () => {
    const h = host();
    const notifier = new Notifier(h.host);
    notifier.notify('a');
    await turn();
    notifier.notify('b');
    await turn();
    notifier.notify('c');
    await turn();
    expect(h.woken).toEqual(['a', 'b', 'c']);
    expect(h.sent).toEqual([['a'], ['b']]);
    h.complete();
    await turn();
    expect(h.sent).toEqual([['a'], ['b'], ['c']]);
    h.complete();
    h.complete();
    await notifier.idle();
  });

  it('goes on with what is pending after a NOTIFY failed', async () => {
    const sent: string[][] = [];
    let fail = true;
    const notifier = new Notifier({
      logger: silentLogger,
      isOpen: () => true,
      notified: () => undefined,
      send: (queues) => {
        sent.push(queues);
        if (!fail) return Promise.resolve();
        fail = false;
        return Promise.reject(new Error('connection lost'));
      },
    });
    notifier.notify('a');
    notifier.notify('b');
    await turn();
    notifier.notify('c');
    await notifier.idle();
    expect(sent).toEqual([['a', 'b'], ['c']]);
  });
});
