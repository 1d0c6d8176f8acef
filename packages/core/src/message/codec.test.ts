import { CloudEvent, HTTP } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { jsonCodec } from './codec.js';
import { createEnvelope } from './envelope.js';
import { ConfigurationError, DecodeError, MessageTooLargeError } from '../errors.js';

const envelope = createEnvelope({
  type: 'shop.order-placed',
  source: '/missive/shop',
  data: { orderId: 'o-1', total: 30 },
  correlationId: 'corr-1',
  causationId: 'cause-1',
  partitionKey: 'o-1',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  replyTo: 'shop.replies.1',
  expiresAt: Date.UTC(2030, 0, 1),
  version: 2,
});

/** The body of an event as the codec wrote it before the lean format (2026-11-30): every attribute written out. */
const OLD_FORMAT =
  '{"specversion":"1.0","id":"6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11","type":"shop.order-placed","source":"/missive/shop",' +
  '"time":"2026-11-29T23:00:00.000Z","datacontenttype":"application/json","messagekind":"event","dataversion":1,' +
  '"correlationid":"6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11","conversationid":"6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11",' +
  '"data":{"orderId":"o-1","total":30}}';

describe('json codec', () => {
  it('round-trips an envelope', () => {
    const codec = jsonCodec();
    expect(codec.decode(codec.encode(envelope))).toEqual(envelope);
  });

  it('writes what the CloudEvents SDK reads as a CloudEvent, extensions included', () => {
    const body = Buffer.from(jsonCodec().encode(envelope)).toString('utf8');
    const event = HTTP.toEvent({ headers: { 'content-type': 'application/cloudevents+json' }, body }) as CloudEvent<{ orderId: string }>;
    expect(event).toBeInstanceOf(CloudEvent);
    expect(event.validate()).toBe(true);
    expect(event.id).toBe(envelope.id);
    expect(event.type).toBe('shop.order-placed');
    expect(event.source).toBe('/missive/shop');
    expect(event.specversion).toBe('1.0');
    expect(event.data).toEqual({ orderId: 'o-1', total: 30 });
    expect(event.correlationid).toBe('corr-1');
    expect(event.causationid).toBe('cause-1');
    expect(event.partitionkey).toBe('o-1');
    expect(event.traceparent).toBe(envelope.traceparent);
    expect(event.dataversion).toBe(2);
    const lean = HTTP.toEvent({
      headers: { 'content-type': 'application/cloudevents+json' },
      body: Buffer.from(jsonCodec().encode(createEnvelope({ type: 't.x', source: '/missive/s', data: { a: 1 } }))).toString('utf8'),
    }) as CloudEvent<unknown>;
    expect(lean.validate()).toBe(true);
  });

  it('leaves out attributes holding their default or repeating another, and reads them back', () => {
    const codec = jsonCodec();
    const first = createEnvelope({ type: 'shop.order-placed', source: '/missive/shop', data: { orderId: 'o-1' } });
    const written = JSON.parse(Buffer.from(codec.encode(first)).toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(written).sort()).toEqual(['data', 'id', 'source', 'specversion', 'time', 'type']);
    expect(codec.decode(codec.encode(first))).toEqual(first);
    const later = createEnvelope({
      type: 'payment.charge',
      source: '/missive/shop',
      data: 1,
      kind: 'command',
      version: 3,
      correlationId: 'c-1',
      conversationId: 'v-1',
    });
    const kept = JSON.parse(Buffer.from(codec.encode(later)).toString('utf8')) as Record<string, unknown>;
    expect(kept).toMatchObject({ messagekind: 'command', dataversion: 3, correlationid: 'c-1', conversationid: 'v-1' });
    expect(codec.decode(codec.encode(later))).toEqual(later);
  });

  it('reads an envelope written in the old, full format', () => {
    const back = jsonCodec().decode(Buffer.from(OLD_FORMAT));
    expect(back).toEqual({
      specversion: '1.0',
      id: '6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11',
      type: 'shop.order-placed',
      source: '/missive/shop',
      time: '2026-11-29T23:00:00.000Z',
      datacontenttype: 'application/json',
      messagekind: 'event',
      dataversion: 1,
      correlationid: '6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11',
      conversationid: '6f1c2a4e-0c1d-4d2b-9a57-3c8e2b1d0a11',
      data: { orderId: 'o-1', total: 30 },
    });
    expect(jsonCodec().encode(back).byteLength).toBeLessThan(OLD_FORMAT.length - 150);
  });

  it('copies an envelope as the round trip would, sharing nothing, or says it cannot', () => {
    const codec = jsonCodec();
    const copy = codec.copy!(envelope)!;
    expect(copy).toEqual(codec.decode(codec.encode(envelope)));
    expect(copy).not.toBe(envelope);
    expect(copy.data).not.toBe(envelope.data);
    const odd = (data: unknown) => codec.copy!(createEnvelope({ type: 't', source: '/s', data }));
    expect(odd({ at: new Date(0) })).toBeUndefined();
    expect(odd(JSON.parse('{"__proto__":{"polluted":1}}'))).toBeUndefined();
    expect(odd({ constructor: { prototype: {} } })).toBeUndefined();
    expect(odd({ n: 1n })).toBeUndefined();
    expect(jsonCodec({ maxBytes: 300 }).copy!(createEnvelope({ type: 't', source: '/s', data: 'x'.repeat(40) }))).toBeUndefined();
  });

  it('refuses __proto__ and constructor.prototype keys and leaves Object.prototype untouched', () => {
    const codec = jsonCodec();
    const proto = Buffer.from('{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"__proto__":{"polluted":1}}}');
    const ctor = Buffer.from('{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"constructor":{"prototype":{"polluted":1}}}}');
    expect(() => codec.decode(proto)).toThrow(DecodeError);
    expect(() => codec.decode(ctor)).toThrow(DecodeError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const harmless = Buffer.from('{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"constructor":"a shop builder"}}');
    expect(codec.decode(harmless).data).toEqual({ constructor: 'a shop builder' });
  });

  it('refuses the keys when their letters are escaped, and reads a body with a byte-order mark', () => {
    const codec = jsonCodec();
    const escaped = Buffer.from('{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"\\u005f_pr\\u006fto__":{"polluted":1}}}');
    expect(() => codec.decode(escaped)).toThrow(DecodeError);
    const ctor = Buffer.from(
      '{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"c\\u006fnstructor":{"prototype":{"polluted":1}}}}',
    );
    expect(() => codec.decode(ctor)).toThrow(DecodeError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const bom = Buffer.from('\uFEFF{"specversion":"1.0","id":"1","type":"t","source":"/s","data":{"a":1}}');
    expect(codec.decode(bom).data).toEqual({ a: 1 });
  });

  it('refuses bodies that are not envelopes, naming the fault', () => {
    const codec = jsonCodec();
    expect(() => codec.decode(Buffer.from('[1,2]'))).toThrow(/not a JSON object/);
    expect(() => codec.decode(Buffer.from('{"specversion":"0.3","id":"1","type":"t","source":"/s","data":1}'))).toThrow(/specversion/);
    expect(() => codec.decode(Buffer.from('{"specversion":"1.0","type":"t","source":"/s","data":1}'))).toThrow(/"id"/);
    expect(() => codec.decode(Buffer.from('{"specversion":"1.0","id":"1","type":"t","source":"/s"}'))).toThrow(/no data/);
    expect(() => codec.decode(Buffer.from('not json'))).toThrow(DecodeError);
  });

  it('refuses payloads above the size limit, both ways', () => {
    const codec = jsonCodec({ maxBytes: 300 });
    const big = createEnvelope({ type: 't', source: '/s', data: { text: 'x'.repeat(400) } });
    expect(() => codec.encode(big)).toThrow(MessageTooLargeError);
    expect(() => codec.decode(jsonCodec().encode(big))).toThrow(/over the limit of 300 bytes/);
    expect(() => jsonCodec({ maxBytes: 0 })).toThrow(ConfigurationError);
  });
});
