/**
 * The state of one delivery on its way through an endpoint's consume pipeline. Built-in steps
 * fill it in (decode sets `envelope`, routing sets `route`, validation sets `payload`) and record
 * how the delivery should be settled; user middleware sees it as a read-only `ConsumeContext`.
 *
 * @example
 * ```ts
 * const step: Middleware<ConsumeState> = async (state, next) => { state.items.set('seen', true); await next(); };
 * ```
 * @module
 */
import type { AnyContract } from '../contracts/contract.js';
import type { ConsumeContext, DeliveryFacts } from './context.js';
import type { Envelope } from '../message/envelope.js';
import type { Route } from './endpoint.js';
import { Header } from '../message/headers.js';
import type { Delivery } from '../transport/transport.js';

/** How a delivery ends when the pipeline returns without throwing. */
export type Settlement =
  | { readonly kind: 'ack' }
  | { readonly kind: 'drop'; readonly reason: string }
  | { readonly kind: 'redeliver'; readonly delayMs: number; readonly headers: Readonly<Record<string, string>>; readonly error: Error };

const ACK: Settlement = Object.freeze({ kind: 'ack' });

/** Mutable per-delivery state. */
export class ConsumeState implements ConsumeContext {
  envelope!: Envelope;
  route!: Route;
  payload: unknown;
  settlement: Settlement = ACK;
  /** Handler invocations in this delivery. */
  invocations = 0;
  attempt = 0;
  /**
   * Handler invocations in earlier deliveries: the attempts header, and at least one per earlier
   * delivery (a delivery the broker made may have run the handler before its process died). The
   * retry step also caps it by what the route's policy allows (see {@link readDeliveryMetadata}).
   */
  priorAttempts: number;
  /** Delayed redeliveries so far (from the redeliveries header). */
  readonly redeliveries: number;
  /** The delivery's number (1 = first), clamped so an untrusted count never weakens `maxDeliveries`. */
  readonly deliveryCount: number;
  /** Set when the stop deadline handed the delivery back: nothing may settle it after that. */
  handedBack = false;
  /** Set when the delivery was aborted (stop deadline). */
  aborted = false;
  private items_: Map<unknown, unknown> | undefined;
  private controller: AbortController | undefined;

  private facts: DeliveryFacts | undefined;

  constructor(
    readonly service: string,
    readonly endpoint: string,
    /** The delivery as the transport handed it: only the endpoint runtime settles it. */
    readonly received: Delivery,
  ) {
    const headers = received.message.headers as Readonly<Record<string, string>> | null | undefined;
    const raw = received.deliveryCount;
    if (headers?.[Header.Attempts] === undefined && headers?.[Header.Redeliveries] === undefined && Number.isInteger(raw) && raw >= 1) {
      // No attempt headers and a whole count: what readDeliveryMetadata gives, without its object.
      this.deliveryCount = raw;
      this.priorAttempts = raw - 1;
      this.redeliveries = 0;
      return;
    }
    const metadata = readDeliveryMetadata(received);
    this.deliveryCount = metadata.deliveryCount;
    this.priorAttempts = metadata.priorAttempts;
    this.redeliveries = metadata.redeliveries;
  }

  /** What middleware sees of the delivery (created on first use; never a way to settle it). */
  get delivery(): DeliveryFacts {
    return (this.facts ??= Object.freeze({
      messageId: this.received.message.id,
      type: this.received.message.type,
      headers: this.received.message.headers,
      deliveryCount: this.deliveryCount,
    }));
  }

  /** Created on first use: most deliveries never need one. */
  get items(): Map<unknown, unknown> {
    return (this.items_ ??= new Map());
  }

  /** Aborts when the stop deadline hands the delivery back. Created on first use (it costs more than the rest of a delivery's bookkeeping). */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted && !this.controller.signal.aborted) this.controller.abort();
    return this.controller.signal;
  }

  /** Aborts the delivery's handler. */
  abort(reason: Error): void {
    this.aborted = true;
    this.controller?.abort(reason);
  }

  get contract(): AnyContract | undefined {
    return this.route?.contract;
  }

  /** Handler invocations for the message in all its deliveries so far. */
  get totalAttempts(): number {
    return this.priorAttempts + this.invocations;
  }
}

/** A counter header: a whole number from 0 up, else `undefined` (absent or unreadable). */
function counter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Reads the delivery metadata the bus relies on without trusting it: a broker's delivery count
 * and the attempt headers travel with the message and can be written by anyone who can write to
 * the queue. The rules, chosen so that no value can weaken the `maxDeliveries` guard or lengthen
 * the retry policy:
 *
 * - `deliveryCount`: a whole number of at least 1, and at least one more than the delayed
 *   redeliveries the headers record (each of those was a delivery).
 * - `redeliveries`: the header when it is a whole number; absent means 0; anything else (`-1`,
 *   `abc`) counts every earlier delivery as a redelivery (the strictest reading).
 * - `priorAttempts`: the header when it is a whole number, but at least one per earlier delivery
 *   (so `ctx.attempt` survives a crash); unreadable means one per earlier delivery. The retry step
 *   caps it at what the policy allows per delivery, so `999999` cannot be taken as is.
 */
export function readDeliveryMetadata(delivery: Delivery): { deliveryCount: number; redeliveries: number; priorAttempts: number } {
  const headers = (delivery.message.headers as Readonly<Record<string, string>> | null | undefined) ?? {};
  const attemptsHeader = headers[Header.Attempts];
  const redeliveriesHeader = headers[Header.Redeliveries];
  const attempts = counter(attemptsHeader);
  let redeliveries = counter(redeliveriesHeader);
  const raw = delivery.deliveryCount;
  let deliveryCount = Number.isFinite(raw) ? Math.max(1, Math.floor(raw)) : 1;
  if (redeliveries !== undefined) deliveryCount = Math.max(deliveryCount, redeliveries + 1);
  else redeliveries = redeliveriesHeader === undefined ? 0 : deliveryCount - 1;
  const priorAttempts = Math.max(attempts ?? 0, deliveryCount - 1);
  return { deliveryCount, redeliveries, priorAttempts };
}
