import { describe, expect, it } from 'vitest';
import type { TransportMessage } from '@missive/core';
import { headers, type Msg, type MsgHdrs } from 'nats';
import { decodeMessage, decodeReceived, encodeHeaders, wireHeaders } from './message-codec.js';

/** The header block as nats.js publishes it: both kinds of headers have `encode()`, which `MsgHdrs` does not declare. */
const bytes = (h: MsgHdrs) => (h as unknown as { encode(): Uint8Array }).encode();
const text = (h: MsgHdrs) => new TextDecoder().decode(bytes(h));

const messages: TransportMessage[] = [
  { id: '0b9c7c1e-2f7a-4a57-9d0e-6d1f3c1b2a10', type: 'shop.order-placed', body: new Uint8Array(), headers: {} },
  {
    id: 'm-1',
    type: 'shop.charge-card',
    body: new Uint8Array(),
    headers: { 'missive-attempt': '2', note: 'a\r\nb' },
    partitionKey: 'customer 7/ü',
  },
];

describe('wireHeaders', () => {
  it('writes the same header block as nats.js headers() would', () => {
    for (const message of messages) expect(text(wireHeaders(message))).toBe(text(encodeHeaders(message)));
  });

  it('leaves values nats.js must check or trim to nats.js', () => {
    expect(() => wireHeaders({ ...messages[0]!, id: 'a\nb' })).toThrow(/\\r and \\n/);
    expect(text(wireHeaders({ ...messages[0]!, type: ' padded ' }))).toContain('Missive-Type: padded\r\n');
  });

  it('leaves out Missive-Type when the message goes to the topic named after its type', () => {
    const message = messages[0]!;
    expect(text(wireHeaders(message, message.type))).toBe(`NATS/1.0\r\nNats-Msg-Id: ${message.id}\r\n\r\n`);
    expect(text(wireHeaders(message, 'shop.other-topic'))).toContain('Missive-Type: shop.order-placed\r\n');
    expect(text(wireHeaders(messages[1]!, messages[1]!.type))).not.toContain('Missive-Type');
  });

  it('decodes back to the message', () => {
    const message = messages[1]!;
    const decoded = decodeMessage(message.body, encodeHeaders(message));
    expect(decoded).toEqual({ ...message, body: message.body });
  });
});

/** A received message as nats.js keeps it: the header block and the body in one buffer, and where the block ends. */
function received(message: TransportMessage, body: Uint8Array, subject = 'p._.q.billing', topic?: string): Msg {
  const block = bytes(wireHeaders(message, topic));
  const raw = new Uint8Array(block.length + body.length);
  raw.set(block);
  raw.set(body, block.length);
  return {
    subject,
    _rdata: raw,
    _msg: { hdr: block.length },
    data: raw.subarray(block.length),
    headers: encodeHeaders(message),
  } as unknown as Msg;
}

describe('decodeReceived', () => {
  it('reads the header block from the bytes as nats.js would (values with colons, keys, ids)', () => {
    const body = new TextEncoder().encode('{"specversion":"1.0"}');
    for (const message of messages) {
      const decoded = decodeReceived(received(message, body));
      expect(decoded).toEqual(decodeMessage(body, encodeHeaders(message)));
      expect(decoded.headers).toEqual(message.headers);
      expect(new TextDecoder().decode(decoded.body)).toBe('{"specversion":"1.0"}');
    }
  });

  it("takes the type of a message published to its type's topic from the subject", () => {
    const body = new TextEncoder().encode('{}');
    for (const message of messages) {
      const subject = message.partitionKey === undefined ? `p._.t.${message.type}` : `p.3.t.${message.type}`;
      const decoded = decodeReceived(received(message, body, subject, message.type));
      expect(decoded).toEqual(decodeMessage(body, encodeHeaders(message)));
    }
  });

  it('reads a message the previous version wrote (Missive-Type always in the headers), whatever its subject', () => {
    const body = new TextEncoder().encode('{}');
    const previous = (message: TransportMessage) =>
      `NATS/1.0\r\nNats-Msg-Id: ${message.id}\r\nMissive-Type: ${message.type}\r\n` +
      (message.partitionKey === undefined ? '' : `Missive-Key: ${encodeURIComponent(message.partitionKey)}\r\n`) +
      (Object.keys(message.headers).length === 0 ? '' : `Missive-Headers: ${JSON.stringify(message.headers)}\r\n`) +
      '\r\n';
    for (const message of messages) {
      for (const subject of [`p._.t.${message.type}`, 'p._.t.some.other-topic', 'p._.q.billing']) {
        const block = new TextEncoder().encode(previous(message));
        const raw = new Uint8Array(block.length + body.length);
        raw.set(block);
        raw.set(body, block.length);
        const msg = { subject, _rdata: raw, _msg: { hdr: block.length } } as unknown as Msg;
        expect(decodeReceived(msg)).toEqual(decodeMessage(body, encodeHeaders(message)));
      }
    }
  });

  it('reads a hand-written block: values trimmed, the first of a repeated header, other headers skipped', () => {
    const block = new TextEncoder().encode(
      'NATS/1.0\r\nX-Other: 1\r\nNats-Msg-Id:  \tm-7 \r\nMissive-Type:shop.a\r\nMissive-Type: shop.b\r\nMissive-Key: k%2F1\r\nbroken line\r\n\r\n',
    );
    const body = new TextEncoder().encode('{}');
    const raw = new Uint8Array(block.length + body.length);
    raw.set(block);
    raw.set(body, block.length);
    const decoded = decodeReceived({ _rdata: raw, _msg: { hdr: block.length } } as unknown as Msg);
    expect(decoded).toMatchObject({ id: 'm-7', type: 'shop.a', partitionKey: 'k/1', headers: {} });
    expect(new TextDecoder().decode(decoded.body)).toBe('{}');
  });

  it('falls back to nats.js when the message is kept another way', () => {
    const message = messages[1]!;
    const msg = { data: message.body, headers: encodeHeaders(message) } as unknown as Msg;
    expect(decodeReceived(msg)).toEqual(decodeMessage(message.body, encodeHeaders(message)));
    const h = headers();
    h.set('Nats-Msg-Id', message.id);
    const typeless = { subject: 'p._.t.shop.charge-card', data: message.body, headers: h } as unknown as Msg;
    expect(decodeReceived(typeless)).toMatchObject({ id: message.id, type: 'shop.charge-card' });
  });
});
