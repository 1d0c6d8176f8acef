import { describe, expect, it } from 'vitest';
import { BusStateError } from '../errors.js';
import type { Delivery } from './transport.js';
import { DeliveryBuffer } from './delivery-buffer.js';

function delivery(id: string): Delivery {
  const settle = async (): Promise<void> => undefined;
  return {
    message: { id, type: 't', body: new Uint8Array(0), headers: {} },
    deliveryCount: 1,
    ack: settle,
    nack: settle,
    deadLetter: settle,
  };
}

describe('DeliveryBuffer', () => {
  it('yields in push order, to a reader that waits or comes later, and counts what it holds', async () => {
    const buffer = new DeliveryBuffer<Delivery>('test');
    const it = buffer[Symbol.asyncIterator]();
    const waiting = it.next();
    const [a, b, c] = [delivery('a'), delivery('b'), delivery('c')];
    expect(buffer.push(a)).toBe(true);
    expect((await waiting).value).toBe(a);
    buffer.push(b);
    buffer.push(c);
    expect([buffer.held, buffer.unread]).toEqual([3, 2]);
    expect((await it.next()).value).toBe(b);
    expect(buffer.yielded).toEqual([a, b]);
    expect(buffer.isYielded(b) && !buffer.isYielded(c)).toBe(true);
    buffer.settled(a);
    expect([buffer.held, buffer.unread]).toEqual([2, 1]);
  });

  it('hands over a waiting delivery at once with take, in the order the iterator would, as read', async () => {
    const buffer = new DeliveryBuffer<Delivery>('test');
    const [a, b, c] = [delivery('a'), delivery('b'), delivery('c')];
    expect(buffer.take()).toBeUndefined();
    buffer.push(a);
    buffer.push(b);
    buffer.push(c);
    expect(buffer.take()).toBe(a);
    expect((await buffer[Symbol.asyncIterator]().next()).value).toBe(b);
    expect(buffer.take()).toBe(c);
    expect(buffer.take()).toBeUndefined();
    expect(buffer.yielded).toEqual([a, b, c]);
    expect([buffer.held, buffer.unread]).toEqual([3, 0]);
    buffer.push(delivery('d'));
    buffer.close();
    expect(buffer.take()).toBeUndefined();
  });

  it('allows one reader at a time', async () => {
    const buffer = new DeliveryBuffer<Delivery>('test');
    const first = buffer[Symbol.asyncIterator]().next();
    await expect(buffer[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(BusStateError);
    buffer.push(delivery('a'));
    expect((await first).done).toBe(false);
  });

  it('on close ends the waiting reader, returns the unread, and refuses later pushes', async () => {
    const buffer = new DeliveryBuffer<Delivery>('test');
    const it = buffer[Symbol.asyncIterator]();
    const waiting = it.next();
    const reader = new DeliveryBuffer<Delivery>('test');
    const [a, b] = [delivery('a'), delivery('b')];
    reader.push(a);
    reader.push(b);
    expect(buffer.close()).toEqual([]);
    expect((await waiting).done).toBe(true);
    expect(buffer.push(a)).toBe(false);
    expect(reader.close()).toEqual([a, b]);
    expect((await reader[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  it('takes out unread deliveries by match, or all of them without closing', async () => {
    const buffer = new DeliveryBuffer<Delivery>('test');
    const [a, b, c] = [delivery('a'), delivery('b'), delivery('c')];
    for (const d of [a, b, c]) buffer.push(d);
    expect(buffer.remove((d) => d !== b)).toEqual([a, c]);
    expect(buffer.discard()).toEqual([b]);
    expect(buffer.closed).toBe(false);
    buffer.push(c);
    expect((await buffer[Symbol.asyncIterator]().next()).value).toBe(c);
  });

  it('runs onReturn when a for-await loop leaves early', async () => {
    let returned = 0;
    const buffer = new DeliveryBuffer<Delivery>('test', async () => {
      returned++;
    });
    buffer.push(delivery('a'));
    for await (const d of buffer) {
      expect(d.message.id).toBe('a');
      break;
    }
    expect(returned).toBe(1);
  });
});
