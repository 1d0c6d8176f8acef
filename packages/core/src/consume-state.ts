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
import type { AnyContract } from './contract.js';
import type { ConsumeContext } from './context.js';
import type { Envelope } from './envelope.js';
import type { Route } from './endpoint.js';
import { Header } from './headers.js';
import type { Delivery } from './transport.js';

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
  /** Handler invocations in earlier deliveries (from the attempts header). */
  readonly priorAttempts: number;
  /** Delayed redeliveries so far (from the redeliveries header). */
  readonly redeliveries: number;
  /** Set when the stop deadline handed the delivery back: nothing may settle it after that. */
  handedBack = false;
  /** Set when the delivery was aborted (stop deadline). */
  aborted = false;
  private items_: Map<unknown, unknown> | undefined;
  private controller: AbortController | undefined;

  constructor(
    readonly service: string,
    readonly endpoint: string,
    readonly delivery: Delivery,
  ) {
    const headers = delivery.message.headers;
    this.priorAttempts = count(headers[Header.Attempts]);
    this.redeliveries = count(headers[Header.Redeliveries]);
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

function count(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}
