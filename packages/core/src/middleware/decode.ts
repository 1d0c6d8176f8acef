/**
 * Decodes the delivery's body into the envelope and picks the endpoint's route for its type. A body
 * that is not an envelope fails with `DecodeError`, a type no handler or tap of the endpoint knows
 * with `UnknownMessageTypeError`: both are dead-lettered at once.
 *
 * @example
 * ```ts
 * const step = decode(jsonCodec(), definition);
 * ```
 * @module
 */
import type { Codec } from '../codec.js';
import type { ConsumeState } from '../consume-state.js';
import { routeOf, type EndpointDefinition } from '../endpoint.js';
import { UnknownMessageTypeError } from '../errors.js';
import type { Middleware } from '../pipeline.js';

/** The step. */
export function decode(codec: Codec, definition: EndpointDefinition): Middleware<ConsumeState> {
  return async function decodeStep(state, next) {
    state.envelope = codec.decode(state.delivery.message.body);
    const route = routeOf(definition, state.envelope.type);
    if (route === undefined) throw new UnknownMessageTypeError(state.envelope.type, definition.name);
    state.route = route;
    await next();
  };
}
