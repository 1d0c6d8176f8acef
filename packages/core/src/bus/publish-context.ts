/**
 * What publish middleware sees of a message on its way out (`PublishContext`), and the type of a
 * publish middleware. The outgoing side (`outgoing.ts`) runs them; `BusOptions.middleware.publish`
 * takes them.
 *
 * @example
 * ```ts
 * const audit: PublishMiddleware = async (ctx, next) => {
 *   await next();
 *   console.log('sent', ctx.envelope.type, 'to', ctx.destination.name);
 * };
 * ```
 * @module
 */
import type { Envelope } from '../message/envelope.js';
import type { Middleware } from '../consume/pipeline.js';

/** A message on its way out, as publish middleware sees it. */
export interface PublishContext {
  readonly envelope: Envelope;
  /** `topic` for events, commands and queries routed by name; `queue` for direct sends and replies. */
  readonly destination: { readonly kind: 'topic' | 'queue'; readonly name: string };
  /** Epoch ms before which it is not delivered. */
  readonly notBefore: number | undefined;
  readonly items: Map<unknown, unknown>;
}

/** A publish middleware. */
export type PublishMiddleware = Middleware<PublishContext>;
