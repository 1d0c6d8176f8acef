import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../message/codec.js';
import { createEnvelope } from '../message/envelope.js';
import { BinaryMessage } from './binary-message.js';
import { withHeaders } from './in-process-message.js';
import { readEnvelope } from './read-envelope.js';

const envelope = createEnvelope({ type: 'shop.order-placed', source: '/missive/shop', data: { orderId: 'o-1' }, partitionKey: 'k' });

describe('BinaryMessage', () => {
  it('is read from its form, and its body is the structured form of the same envelope', () => {
    const codec = jsonCodec();
    const message = new BinaryMessage(codec.toBinary!(envelope)!, {}, envelope.partitionkey);
    expect(message).toMatchObject({ id: envelope.id, type: envelope.type, partitionKey: 'k' });
    expect(readEnvelope(codec, message)).toEqual(envelope);
    expect(codec.decode(message.body)).toEqual(envelope);
  });

  it('is decoded from its body by a codec that does not read forms', () => {
    const codec = jsonCodec();
    const message = new BinaryMessage(codec.toBinary!(envelope)!, {}, undefined);
    const other = { ...jsonCodec() }; // a codec built from the JSON codec: no shortcut
    expect(readEnvelope(other, message)).toEqual(envelope);
  });

  it('stays one when its headers are replaced', () => {
    const codec = jsonCodec();
    const message = new BinaryMessage(codec.toBinary!(envelope)!, {}, 'k');
    const next = withHeaders(message, { 'missive-attempts': '1' });
    expect(next).toBeInstanceOf(BinaryMessage);
    expect(next).toMatchObject({ id: envelope.id, headers: { 'missive-attempts': '1' }, partitionKey: 'k' });
    expect(readEnvelope(codec, next)).toEqual(envelope);
  });
});
