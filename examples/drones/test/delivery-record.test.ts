/**
 * History's record of a delivery: steps are recorded in sequence order whatever order they arrive
 * in. A step that arrives after a gap is held until the gap is filled; a repeated step records
 * nothing; a gap that stays open is logged at warn (once), and its closing at info.
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '@missive/core';
import { MemoryEventStore } from '@missive/eventsourcing';
import { DeliveryRecord, GapWatch, loadDelivery, missingSteps, type Status } from '../src/services/delivery-record.js';

const statuses: Status[] = ['requested', 'assigned', 'picked-up', 'en-route', 'delivered'];
const step = (seq: number) => ({ status: statuses[seq - 1]!, seq, droneId: 'd1', at: seq });

/** The stream's steps, `seq:type`, held steps left out (as history's readers do). */
async function recorded(store: MemoryEventStore, id: string): Promise<string[]> {
  const events = await store.readStream(DeliveryRecord.stream(id));
  return events.filter((e) => e.type !== 'held').map((e) => `${(e.data as { seq: number }).seq}:${e.type}`);
}

/** A logger that keeps its warn and info lines. */
function lines(): Logger & { warn: Logger['warn']; seen: { level: string; text: string }[] } {
  const seen: { level: string; text: string }[] = [];
  const keep =
    (level: string) =>
    (first: unknown, text?: string): void =>
      void seen.push({ level, text: typeof first === 'string' ? first : (text ?? '') });
  return { debug: () => undefined, info: keep('info'), warn: keep('warn'), error: keep('error'), seen };
}

describe('delivery record', () => {
  it('a step after a gap is held until the missing step comes, then both are recorded in order', async () => {
    const store = new MemoryEventStore();
    for (const seq of [1, 2, 4]) await DeliveryRecord.execute(store, 'x', step(seq));
    expect(await recorded(store, 'x')).toEqual(['1:requested', '2:assigned']);
    const { state } = await DeliveryRecord.load(store, 'x');
    expect(state).toMatchObject({ status: 'assigned', seq: 2 });
    expect(state.held.map((h) => h.seq)).toEqual([4]);
    expect(missingSteps(state)).toEqual([3]);
    for (const seq of [3, 5]) await DeliveryRecord.execute(store, 'x', step(seq));
    expect(await recorded(store, 'x')).toEqual(['1:requested', '2:assigned', '3:picked-up', '4:en-route', '5:delivered']);
    expect((await DeliveryRecord.load(store, 'x')).state).toEqual({ status: 'delivered', seq: 5, held: [] });
  });

  it('several held steps, arriving in any order and repeated, are recorded once each when the gap closes', async () => {
    const store = new MemoryEventStore();
    for (const seq of [1, 5, 3, 5, 4, 3]) await DeliveryRecord.execute(store, 'y', step(seq));
    const { state, version } = await DeliveryRecord.load(store, 'y');
    expect(state.held.map((h) => h.seq)).toEqual([3, 4, 5]);
    expect(missingSteps(state)).toEqual([2]);
    expect(version).toBe(4); // step 1 and three held steps: the repeats appended nothing
    await DeliveryRecord.execute(store, 'y', step(2));
    await DeliveryRecord.execute(store, 'y', step(4)); // a late repeat of a step now recorded
    expect(await recorded(store, 'y')).toEqual(['1:requested', '2:assigned', '3:picked-up', '4:en-route', '5:delivered']);
  });

  it('a gap open past the limit is logged at warn once, naming the held and the missing steps; its closing at info', async () => {
    const store = new MemoryEventStore();
    const logger = lines();
    let now = 0;
    const gaps = new GapWatch({ afterMs: 10_000, logger, load: loadDelivery(store), now: () => now });
    const deliver = async (id: string, seq: number) => gaps.note(id, (await DeliveryRecord.execute(store, id, step(seq))).state);
    await deliver('z', 1);
    await deliver('z', 3);
    await deliver('w', 1);
    await deliver('w', 3); // a gap that closes before the limit: never reported
    expect(gaps.size).toBe(2);
    now = 9_999;
    await deliver('w', 2);
    await gaps.sweep();
    expect(logger.seen).toEqual([]);
    now = 10_000;
    await gaps.sweep();
    await gaps.sweep();
    expect(logger.seen).toEqual([
      {
        level: 'warn',
        text: 'history: delivery z has step(s) 3 held for 10 s, waiting for step(s) 2 (lost or late); they are recorded when it arrives',
      },
    ]);
    await deliver('z', 2);
    expect(gaps.size).toBe(0);
    expect(logger.seen[1]).toEqual({ level: 'info', text: "history: delivery z's missing step arrived; its held steps are recorded" });
    expect(await recorded(store, 'z')).toEqual(['1:requested', '2:assigned', '3:picked-up']);
  });
});
