import { describe, expect, it } from 'vitest';
import type { Msg } from 'nats';
import { BatchFormatError, copyBlock, isBatch, readBatch } from './batch.js';
import { decodeBlock } from './message-codec.js';

/** A batch payload as the publisher writes it: per member a 32-bit length and the header block, a 32-bit length and the payload. */
function payload(members: readonly { block: string; data: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const block = Buffer.from(m.block);
    const data = Buffer.from(m.data);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(block.length);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    parts.push(head, block, len, data);
  }
  return Buffer.concat(parts);
}

/** A received message as nats.js keeps it (raw bytes, where the header block ends). */
function received(block: string, data: Buffer): Msg {
  const raw = Buffer.concat([Buffer.from(block), data]);
  return { _rdata: raw, _msg: { hdr: Buffer.byteLength(block) }, subject: 'p._.t.a', data } as unknown as Msg;
}

describe('batch messages', () => {
  const a = { block: 'NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n', data: 'one' };
  const b = { block: 'NATS/1.0\r\nNats-Msg-Id: b\r\nMissive-Headers: {"x":"1"}\r\n\r\n', data: 'two' };

  it('tells a batch message by its first header, and reads its members in order', () => {
    expect(isBatch(received('NATS/1.0\r\nMissive-Batch: 2\r\nNats-Msg-Id: batch:h\r\n\r\n', payload([a, b])))).toBe(true);
    expect(isBatch(received('NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n', Buffer.from('one')))).toBe(false);
    const members = readBatch(payload([a, b]), '2');
    expect(members.map((m) => [m.block, Buffer.from(m.data).toString()])).toEqual([
      [a.block, 'one'],
      [b.block, 'two'],
    ]);
    expect(decodeBlock(members[1]!.block, members[1]!.data, 'p._.t.shop.placed')).toMatchObject({
      id: 'b',
      type: 'shop.placed',
      headers: { x: '1' },
    });
  });

  it('refuses a payload that is not a list of members', () => {
    expect(() => readBatch(Buffer.from([0, 0, 0, 200, 1, 2]), '2')).toThrow(BatchFormatError);
    expect(() => readBatch(payload([a]).subarray(0, 10), '2')).toThrow(BatchFormatError);
    expect(() => readBatch(Buffer.alloc(0), '2')).toThrow(/says it holds 2, and it holds 0/);
    expect(() => readBatch(payload([a]), '2')).toThrow(/says it holds 2, and it holds 1/);
    expect(() => readBatch(payload([{ block: 'garbage', data: '' }, a]), '2')).toThrow(/no NATS header block/);
  });

  it('refuses a batch message that does not hold the members its Missive-Batch header says, or says more than a batch holds', () => {
    expect(() => readBatch(payload([a, b]), '3')).toThrow(/says it holds 3, and it holds 2/);
    expect(() => readBatch(payload([a, b, a]), '2')).toThrow(/says it holds 2, and more follow/);
    for (const count of ['1', '65', '4294967296', '', 'two', ' 2', '-2'])
      expect(() => readBatch(payload([a, b]), count), count).toThrow(`says it holds ${count}, not 2 to 64`);
  });

  it("writes a member alone under a new id, with its id, type, deliveries and a nack's headers", () => {
    const block = copyBlock(b.block, { msgId: 'lane:7:1:1', deliveries: 1, topic: 'shop.placed', headers: { retried: 'yes' } });
    const meta = { prior: 0 };
    const message = decodeBlock(block, Buffer.from('two'), 'p._.q.billing', meta);
    expect(message).toMatchObject({ id: 'b', type: 'shop.placed', headers: { retried: 'yes' } });
    expect(meta.prior).toBe(1);
    expect(block.startsWith('NATS/1.0\r\nNats-Msg-Id: lane:7:1:1\r\n')).toBe(true);
    expect(block.endsWith('\r\n\r\n')).toBe(true);
    // Its own headers kept when the nack gives none; a type it names stays.
    const kept = copyBlock('NATS/1.0\r\nNats-Msg-Id: c\r\nMissive-Type: v2\r\nMissive-Headers: {"x":"1"}\r\n\r\n', {
      msgId: 'n',
      deliveries: 2,
      topic: 'shop.placed',
    });
    expect(decodeBlock(kept, Buffer.from(''), 'p._.q.billing')).toMatchObject({ id: 'c', type: 'v2', headers: { x: '1' } });
  });
});
