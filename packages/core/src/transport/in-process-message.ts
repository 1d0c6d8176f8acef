/**
 * A message handed over inside one process (the memory transport): it holds a copy of the
 * envelope made by the codec (`Codec.copy`) and encodes it only when something reads `body` (a
 * dead-letter listing, a test). A consumer of the same codec takes a fresh copy of the envelope
 * instead of decoding, so on this path a message is neither encoded nor decoded, with the same
 * result as on a broker:
 *
 * - the copy is taken at publish, so changing the payload afterwards changes nothing sent;
 * - each delivery gets its own copy, so a handler that changes its message changes no other
 *   delivery, redelivery or dead letter (`Codec.copyAgain`: the held copy was checked once, at
 *   publish, so a copy of it needs no checks);
 * - the copy holds only what JSON would carry (see `json-copy.ts`); anything else, and anything
 *   near the size limit, takes the encoded path, where the codec checks and refuses as usual;
 * - the envelope's attributes are checked on receipt as `decode` checks them, and the payload is
 *   validated against its schema as on any transport.
 *
 * @example
 * ```ts
 * const held = codec.copy?.(envelope);
 * const message = held === undefined ? encoded : new InProcessMessage(held, codec, {}, envelope.partitionkey);
 * ```
 * @module
 */
import type { Codec } from '../message/codec.js';
import type { Envelope } from '../message/envelope.js';
import { BinaryMessage } from './binary-message.js';
import type { TransportMessage } from './transport.js';

/** A {@link TransportMessage} whose envelope is held decoded; `body` is encoded on first read. */
export class InProcessMessage implements TransportMessage {
  readonly id: string;
  readonly type: string;
  private bytes: Uint8Array | undefined;

  /** `envelope` must come from `codec.copy` and is never handed out: readers get {@link InProcessMessage.envelopeFor}. */
  constructor(
    private readonly envelope: Envelope,
    private readonly codec: Codec,
    readonly headers: Readonly<Record<string, string>>,
    readonly partitionKey: string | undefined,
  ) {
    this.id = envelope.id;
    this.type = envelope.type;
  }

  get body(): Uint8Array {
    return (this.bytes ??= this.codec.encode(this.envelope));
  }

  /**
   * A fresh copy of the envelope for a reader whose codec is `codec`, or undefined when that reader
   * must decode `body` (another codec, which may read or limit differently).
   */
  envelopeFor(codec: Codec): Envelope | undefined {
    if (codec !== this.codec) return undefined;
    return codec.copyAgain?.(this.envelope) ?? codec.copy?.(this.envelope);
  }

  /** The same message with other headers. */
  withHeaders(headers: Readonly<Record<string, string>>): InProcessMessage {
    const next = new InProcessMessage(this.envelope, this.codec, headers, this.partitionKey);
    next.bytes = this.bytes;
    return next;
  }
}

/** `message` with its headers replaced; an {@link InProcessMessage} or a `BinaryMessage` stays one. */
export function withHeaders(message: TransportMessage, headers: Readonly<Record<string, string>>): TransportMessage {
  return message instanceof InProcessMessage || message instanceof BinaryMessage ? message.withHeaders(headers) : { ...message, headers };
}
