/**
 * The envelope of a received message, read the cheapest way its form allows: a message handed over
 * in process is copied (`InProcessMessage`), one in binary content mode is read from its form
 * (`BinaryMessage`, `Codec.fromBinary`), anything else is decoded from its body. Each falls back to
 * decoding `body` when the reader's codec cannot take the shortcut.
 *
 * @example
 * ```ts
 * const envelope = readEnvelope(codec, delivery.message); // throws DecodeError as codec.decode does
 * ```
 * @module
 */
import type { Codec } from '../message/codec.js';
import type { Envelope } from '../message/envelope.js';
import { BinaryMessage } from './binary-message.js';
import { InProcessMessage } from './in-process-message.js';
import type { TransportMessage } from './transport.js';

/** The envelope of `message` as `codec` reads it. Throws what `codec.decode` throws. */
export function readEnvelope(codec: Codec, message: TransportMessage): Envelope {
  if (message instanceof BinaryMessage) return codec.fromBinary?.(message.form) ?? codec.decode(message.body);
  if (message instanceof InProcessMessage) return message.envelopeFor(codec) ?? codec.decode(message.body);
  return codec.decode(message.body);
}
