import { describe, expect, it } from 'vitest';
import { jsonCodec } from './codec.js';
import { createEnvelope } from './envelope.js';
import { structuredJson, type BinaryForm } from './binary-form.js';
import { DecodeError, MessageTooLargeError } from '../errors.js';

const envelope = createEnvelope({
  type: 'shop.order-placed',
  source: '/missive/shop',
  data: { orderId: 'o-1', total: 30, note: 'ü "quoted"' },
  correlationId: 'corr-1',
  causationId: 'cause-1',
  partitionKey: 'customer 7/ü',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'a=1, b=2',
  replyTo: 'shop.replies.1',
  expiresAt: Date.UTC(2030, 0, 1),
  version: 2,
});

describe('the binary form (CloudEvents binary content mode)', () => {
  it('reads back as the structured form does: the same envelope', () => {
    const codec = jsonCodec();
    const form = codec.toBinary!(envelope)!;
    expect(codec.fromBinary!(form)).toEqual(codec.decode(codec.encode(envelope)));
    expect(codec.fromBinary!(form)).toEqual(envelope);
  });

  it('holds the data alone and the attributes the wire form writes, as strings', () => {
    const form = jsonCodec().toBinary!(envelope)!;
    expect(JSON.parse(Buffer.from(form.data).toString('utf8'))).toEqual(envelope.data);
    expect(form.attributes).toMatchObject({ specversion: '1.0', id: envelope.id, type: 'shop.order-placed', dataversion: '2' });
    expect(form.attributes).not.toHaveProperty('datacontenttype'); // left out as in the structured form
    expect(form.attributes).not.toHaveProperty('data');
  });

  it('is not offered by a codec built from the JSON codec (it may encode otherwise)', () => {
    const codec = jsonCodec();
    const wrapped = { ...codec, encode: codec.encode };
    expect(wrapped.toBinary!(envelope)).toBeUndefined();
    expect(wrapped.fromBinary!(codec.toBinary!(envelope)!)).toBeUndefined();
  });

  it('leaves to the structured form an envelope it cannot hold as strings', () => {
    const codec = jsonCodec();
    expect(codec.toBinary!({ ...envelope, dataversion: 1.5 })).toBeUndefined();
    expect(codec.toBinary!({ ...envelope, data: undefined })).toBeUndefined();
    expect(codec.toBinary!({ ...envelope, odd_name: 'x' } as never)).toBeUndefined();
  });

  it('refuses what decode refuses, and forms no envelope could have', () => {
    const codec = jsonCodec({ maxBytes: 200 });
    const form = jsonCodec().toBinary!(envelope)!;
    const with_ = (attributes: Record<string, string>, data = form.data): BinaryForm => ({ attributes, data });
    expect(() => codec.fromBinary!(with_({ ...form.attributes, dataversion: '2.5' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_({ ...form.attributes, specversion: '0.3' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_({ ...form.attributes, source: '' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_({ ...form.attributes, datacontenttype: 'text/plain' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_({ ...form.attributes, data: '1' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_({ ...form.attributes, Bad_Name: '1' }))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_(form.attributes, Buffer.from('{"__proto__":{"x":1}}')))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_(form.attributes, Buffer.from('not json')))).toThrow(DecodeError);
    expect(() => codec.fromBinary!(with_(form.attributes, Buffer.alloc(300, 32)))).toThrow(MessageTooLargeError);
    expect(() => codec.toBinary!({ ...envelope, data: 'x'.repeat(300) })).toThrow(MessageTooLargeError);
    expect(codec.fromBinary!(with_({ ...form.attributes, datacontenttype: 'application/json; charset=utf-8' }))?.data).toEqual(
      envelope.data,
    );
  });

  it('turns into the structured form that decode reads as the same envelope', () => {
    const codec = jsonCodec();
    const form = codec.toBinary!(envelope)!;
    expect(codec.decode(structuredJson(form))).toEqual(codec.fromBinary!(form));
    const odd: BinaryForm = { attributes: { ...form.attributes, dataversion: 'x' }, data: form.data };
    expect(() => codec.decode(structuredJson(odd))).toThrow(DecodeError); // "x" stays a string, which decode refuses
  });
});
