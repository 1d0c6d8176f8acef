/**
 * A message whose envelope travels in CloudEvents binary content mode (see `binary-form.ts`): its
 * data alone and its other attributes beside it. The bus hands one to a transport with
 * `capabilities.binaryContent` when its codec makes binary forms (`Codec.toBinary`); such a
 * transport writes `form.attributes` into its own headers and `form.data` as the payload, and hands
 * a received one back the same way. The consumer's codec reads the form (`Codec.fromBinary`)
 * without parsing the attributes as JSON.
 *
 * Everything else that reads `body` (a dead-letter listing, the CLI, a transport path that stores
 * whole envelopes) gets the structured form, written on first read from the form (no parse).
 *
 * @example
 * ```ts
 * const form = codec.toBinary?.(envelope);
 * const message = form === undefined ? encoded : new BinaryMessage(form, {}, envelope.partitionkey);
 * transport.publish(envelope.type, message); // a transport without binaryContent just reads message.body
 * ```
 * @module
 */
import { structuredJson, type BinaryForm } from '../message/binary-form.js';
import type { TransportMessage } from './transport.js';

/** A {@link TransportMessage} held as a binary form; `body` is its structured form, written on first read. */
export class BinaryMessage implements TransportMessage {
  readonly id: string;
  readonly type: string;
  private bytes: Uint8Array | undefined;

  /** `form.attributes` hold the id and type (a transport that left them off its wire puts them back). */
  constructor(
    readonly form: BinaryForm,
    readonly headers: Readonly<Record<string, string>>,
    readonly partitionKey: string | undefined,
  ) {
    this.id = form.attributes.id ?? '';
    this.type = form.attributes.type ?? '';
  }

  get body(): Uint8Array {
    return (this.bytes ??= structuredJson(this.form));
  }

  /** The same message with other headers. */
  withHeaders(headers: Readonly<Record<string, string>>): BinaryMessage {
    const next = new BinaryMessage(this.form, headers, this.partitionKey);
    next.bytes = this.bytes;
    return next;
  }
}
