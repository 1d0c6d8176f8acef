/**
 * Decodes the delivery's body into the envelope and picks the endpoint's route for its type. A body
 * declared (content-type and content-encoding headers) as something the codec does not read, or
 * that is not an envelope, fails with `DecodeError`, a type no handler or tap of the endpoint knows
 * with `UnknownMessageTypeError`: both are dead-lettered at once. A message handed over in process
 * (`InProcessMessage`) is copied by the codec instead of decoded, one in binary content mode
 * (`BinaryMessage`) read from its form (see `read-envelope.ts`).
 *
 * @example
 * ```ts
 * decodeDelivery(state, jsonCodec(), definition); // sets state.envelope and state.route
 * ```
 * @module
 */
import { unreadableContent, type Codec } from '../../message/codec.js';
import type { ConsumeState } from '../consume-state.js';
import { routeOf, type EndpointDefinition } from '../endpoint.js';
import { DecodeError, UnknownMessageTypeError } from '../../errors.js';
import { Header } from '../../message/headers.js';
import { readEnvelope } from '../../transport/read-envelope.js';

/** The step: sets `state.envelope` and `state.route`, or throws. */
export function decodeDelivery(state: ConsumeState, codec: Codec, definition: EndpointDefinition): void {
  const message = state.received.message;
  const contentType = message.headers[Header.ContentType];
  const contentEncoding = message.headers[Header.ContentEncoding];
  if (contentType !== undefined || contentEncoding !== undefined) {
    const reason = unreadableContent(codec, contentType, contentEncoding);
    if (reason !== undefined) throw new DecodeError(reason);
  }
  state.envelope = readEnvelope(codec, message);
  const route = routeOf(definition, state.envelope.type);
  if (route === undefined) throw new UnknownMessageTypeError(state.envelope.type, definition.name);
  state.route = route;
}
