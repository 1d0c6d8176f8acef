import { describe, expect, it } from 'vitest';
import { parseRecord } from './queue-registry.js';
import { parseSnapshot, snapshotRecord, type RegistrySnapshot } from './registry-snapshot.js';

const snapshot: RegistrySnapshot = {
  upTo: 41,
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
});
