import { describe, expect, it } from 'vitest';
import { createEnvelope, jsonCodec, type TransportMessage } from '@missive/core';
import { BinaryMessage } from '@missive/core/transport';
import { headers, type Msg, type MsgHdrs } from 'nats';
import { decodeMessage, decodeReceived, encodeHeaders, UnreadableHeaderError, wireHeaders, wireOf, type Wire } from './message-codec.js';

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

describe('binary content mode (the bus publishing a BinaryMessage)', () => {
  const codec = jsonCodec();
  const envelope = createEnvelope({
    type: 'shop.order-placed',
    source: '/missive/shop',
    data: { orderId: 'o-1', total: 30 },
    partitionKey: 'customer 7/ü',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    tracestate: 'a=1, b="2"%',
    causationId: 'cause-1',
    version: 2,
  });
  const message = new BinaryMessage(codec.toBinary!(envelope)!, { 'missive-attempts': '1' }, envelope.partitionkey);
  const frame = (wire: Wire, subject: string): Msg => {
    const block = bytes(wire.headers);
    const raw = new Uint8Array(block.length + wire.data.length);
    raw.set(block);
    raw.set(wire.data, block.length);
    return { subject, _rdata: raw, _msg: { hdr: block.length } } as unknown as Msg;
  };

  it('writes the data as the payload and the other attributes as ce- headers, leaving out what NATS says', () => {
    const wire = wireOf(message, envelope.type);
    expect(JSON.parse(Buffer.from(wire.data).toString('utf8'))).toEqual(envelope.data);
    expect(text(wire.headers)).toBe(
      `NATS/1.0\r\nNats-Msg-Id: ${envelope.id}\r\n` +
        `ce-source: /missive/shop\r\nce-time: ${envelope.time}\r\nce-dataversion: 2\r\nce-causationid: cause-1\r\n` +
        `ce-traceparent: ${envelope.traceparent}\r\nce-tracestate: a%3D1%2C%20b%3D%222%22%25\r\n` +
        `ce-partitionkey: customer%207%2F%C3%BC\r\nMissive-Headers: {"missive-attempts":"1"}\r\n\r\n`,
    );
  });

  it('names the type in ce-type where the subject does not (a send, another topic)', () => {
    expect(text(wireOf(message).headers)).toContain('ce-type: shop.order-placed\r\n');
    expect(text(wireOf(message, 'shop.other').headers)).toContain('ce-type: shop.order-placed\r\n');
    expect(text(wireOf(message).headers)).not.toContain('Missive-Type');
  });

  it('reads it back as a BinaryMessage of the same envelope, the left-out attributes put back', () => {
    for (const [wire, subject] of [
      [wireOf(message, envelope.type), `p.3.t.${envelope.type}`],
      [wireOf(message), 'p.3.q.billing'],
    ] as const) {
      const back = decodeReceived(frame(wire, subject));
      expect(back).toBeInstanceOf(BinaryMessage);
      expect(back).toMatchObject({
        id: envelope.id,
        type: envelope.type,
        partitionKey: 'customer 7/ü',
        headers: { 'missive-attempts': '1' },
      });
      expect(codec.fromBinary!((back as BinaryMessage).form)).toEqual(envelope);
      expect(codec.decode(back.body)).toEqual(envelope);
    }
  });

  it('writes the structured form when asked (wireHeaders) or when a value cannot be a header', () => {
    expect(text(wireHeaders(message, envelope.type))).not.toMatch(/^ce-/m);
    const lone = new BinaryMessage(
      { attributes: { ...message.form.attributes, subject: '\ud800' }, data: message.form.data },
      {},
      undefined,
    );
    const wire = wireOf(lone, envelope.type);
    expect(text(wire.headers)).not.toMatch(/^ce-/m);
    expect(wire.data).toBe(lone.body);
  });

  it('reads ce- headers in any case, quoted values, and refuses bad percent-encoding', () => {
    const block = (lines: string) => {
      const head = new TextEncoder().encode(`NATS/1.0\r\nNats-Msg-Id: m-1\r\n${lines}\r\n`);
      const body = new TextEncoder().encode('{"a":1}');
      const raw = new Uint8Array(head.length + body.length);
      raw.set(head);
      raw.set(body, head.length);
      return { subject: 'p._.t.shop.a', _rdata: raw, _msg: { hdr: head.length } } as unknown as Msg;
    };
    const read = decodeReceived(block('CE-Source: /s\r\nce-subject: "a \\"b\\""\r\nce-source: /ignored\r\n')) as BinaryMessage;
    expect(read.form.attributes).toEqual({ source: '/s', subject: 'a "b"', specversion: '1.0', id: 'm-1', type: 'shop.a' });
    expect(() => decodeReceived(block('ce-source: %C0%A0\r\n'))).toThrow(UnreadableHeaderError);
    expect(() => decodeReceived(block('ce-__proto__: x\r\n'))).toThrow(UnreadableHeaderError);
  });
});
