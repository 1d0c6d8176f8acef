import type * as amqp from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseRecord } from './queue-registry.js';
import { newestSnapshot, parseSnapshot, snapshotRecord, type RegistrySnapshot } from './registry-snapshot.js';

const snapshot: RegistrySnapshot = {
  upTo: 41,
  upToAt: 1_699_999_999_000,
  at: 1_700_000_000_000,
  queues: [{ name: 'billing', topics: ['shop.#'], ordered: false, seen: 1_700_000_000_000 }],
  types: [{ type: 'shop.order-placed', seen: 1_700_000_000_000 }],
  owners: [{ type: 'billing.charge', queue: 'billing', service: 'billing', since: 1, seen: 1_700_000_000_000 }],
  lost: ['old\0billing.charge'],
};

describe('registry snapshots', () => {
  it('round-trip, and readers that predate them skip them as no record', () => {
    const body = snapshotRecord(snapshot);
    expect(parseSnapshot((JSON.parse(body.toString('utf8')) as { snapshot: unknown }).snapshot)).toEqual(snapshot);
    expect(parseRecord(body)).toBeUndefined();
  });

  it('refuses a malformed snapshot', () => {
    expect(parseSnapshot(undefined)).toBeUndefined();
    expect(parseSnapshot({ ...snapshot, upTo: 'x' })).toBeUndefined();
    expect(parseSnapshot({ ...snapshot, queues: [{ name: 'q', topics: [1], seen: 1 }] })).toBeUndefined();
    expect(parseSnapshot({ ...snapshot, owners: [{ type: 't' }] })).toBeUndefined();
    expect(parseSnapshot({ ...snapshot, lost: [1] })).toBeUndefined();
  });

  afterEach(() => void vi.useRealTimers());

  it('a channel that closes between its consume and the marker ends the read at once, leaving nothing unhandled', async () => {
    // What a broker restart did between the consume's reply and the marker's publish: the publish
    // threw in a callback whose error nothing caught (an unhandled rejection fails a vitest run).
    const closed = () => {
      throw new Error('Channel closed');
    };
    const channel = {
      consume: () => Promise.resolve({ consumerTag: 'ctag-1' }),
      sendToQueue: closed,
      cancel: () => Promise.reject(new Error('Channel closed')),
      ack: closed,
    } as unknown as amqp.Channel;
    vi.useFakeTimers(); // the read's own 10 s limit does not run out here
    let result: RegistrySnapshot | undefined | 'reading' = 'reading';
    const read = newestSnapshot(channel).then((snapshot) => (result = snapshot));
    await vi.advanceTimersByTimeAsync(0);
    expect(result, 'ended without waiting for its time limit').toBeUndefined();
    await read;
  });
});
