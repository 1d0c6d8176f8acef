/**
 * Decodes the delivery's body into the envelope and picks the endpoint's route for its type. A body
 * that is not an envelope fails with `DecodeError`, a type no handler or tap of the endpoint knows
 * with `UnknownMessageTypeError`: both are dead-lettered at once.
 *
 * @example
 * ```ts
 * decodeDelivery(state, jsonCodec(), definition); // sets state.envelope and state.route
 * ```
 * @module
 */
import type { Codec } from '../codec.js';
import type { ConsumeState } from '../consume-state.js';
import { routeOf, type EndpointDefinition } from '../endpoint.js';
import { UnknownMessageTypeError } from '../errors.js';

/** The step: sets `state.envelope` and `state.route`, or throws. */
export function decodeDelivery(state: ConsumeState, codec: Codec, definition: EndpointDefinition): void {
  state.envelope = codec.decode(state.delivery.message.body);
  const route = routeOf(definition, state.envelope.type);
  if (route === undefined) throw new UnknownMessageTypeError(state.envelope.type, definition.name);
  state.route = route;
}
