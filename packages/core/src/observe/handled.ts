/**
 * The `handled` bus event: one per delivery that left an endpoint's consume pipeline, with how it
 * ended and how long it took. It is what a message journal (an audit of what each endpoint
 * handled) records; emitted only while someone listens, so it costs nothing otherwise.
 *
 * A journal on the hot path observes the same with a {@link HandledObserver}
 * (`bus.observeHandled`): positional arguments, no event object per delivery.
 *
 * @example
 * ```ts
 * bus.on('handled', (e) => console.log(e.endpoint, e.type, e.outcome, e.durationMs));
 * bus.observeHandled((service, endpoint, envelope, messageId, type, attempt, outcome) => count(endpoint, outcome));
 * ```
 * @module
 */
import type { Envelope } from '../message/envelope.js';

/** How a delivery ended: acked after its handler, handed back for a delayed retry, dead-lettered, or dropped (expired). */
export type HandledOutcome = 'handled' | 'retried' | 'dead-lettered' | 'dropped';

/** What the `handled` event carries. */
export interface HandledEvent {
  readonly service: string;
  readonly endpoint: string;
  /** The transport message's id and type (the envelope's, once decoded). */
  readonly messageId: string;
  readonly type: string;
  /** The decoded envelope; undefined when the message could not be decoded. */
  readonly envelope: Envelope | undefined;
  /** Handler invocations so far, across deliveries (0 when no handler ran). */
  readonly attempt: number;
  readonly outcome: HandledOutcome;
  /** From the delivery's arrival at the pipeline to its settlement, ms (immediate retries included). */
  readonly durationMs: number;
  /**
   * When the delivery was settled, as `performance.now()` (ms on this process's monotonic clock):
   * the end of `durationMs`. A listener that needs wall-clock times of many events adds one offset
   * (`Date.now() - performance.now()`) instead of reading the clock per event.
   */
  readonly settledAt: number;
  /** The failure: the dead-letter reason's error, or the error a delayed retry follows. */
  readonly error: Error | undefined;
  /** The dead-letter reason code, or the drop reason. */
  readonly reason: string | undefined;
  /** True when the message came back from the dead-letter queue by a replay. */
  readonly replayed: boolean;
}

/**
 * A low-level observer of settled deliveries: the fields of a {@link HandledEvent}, in this order,
 * as positional arguments, so that no event object is built per delivery while only observers
 * watch (a message journal's feed: it reads them into its batch at once). Called synchronously on
 * the bus's thread as each delivery is settled; it must not keep `envelope` longer than it needs,
 * nor throw (a throw is logged and ignored).
 */
export type HandledObserver = (
  service: string,
  endpoint: string,
  envelope: Envelope | undefined,
  messageId: string,
  type: string,
  attempt: number,
  outcome: HandledOutcome,
  durationMs: number,
  settledAt: number,
  error: Error | undefined,
  reason: string | undefined,
  replayed: boolean,
) => void;

/** The `handled` event of an observer's arguments. */
export function handledEventOf(
  service: string,
  endpoint: string,
  envelope: Envelope | undefined,
  messageId: string,
  type: string,
  attempt: number,
  outcome: HandledOutcome,
  durationMs: number,
  settledAt: number,
  error: Error | undefined,
  reason: string | undefined,
  replayed: boolean,
): HandledEvent {
  return { service, endpoint, messageId, type, envelope, attempt, outcome, durationMs, settledAt, error, reason, replayed };
}
