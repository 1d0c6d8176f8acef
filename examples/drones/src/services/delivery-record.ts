/**
 * A delivery as history records it: an event-sourced aggregate whose stream (`delivery-<id>`)
 * holds every step the saga published (`DeliveryUpdated`, numbered `seq` 1, 2, …), one event per
 * step, in sequence order whatever order the steps arrive in.
 *
 * - A step already recorded (or already held) appends nothing: at-least-once delivery repeats steps.
 * - A step that arrives after a gap (`seq` past the next one expected) is **held**: a `held` event
 *   keeps it in the stream (so it survives a restart), and it is not a step yet. When the missing
 *   step arrives, it is recorded and then every held step it makes consecutive, in order. Before
 *   2026-11-30 such a step was recorded at once and the missing one, when it came, was ignored as
 *   older than the last recorded: history lost a step and said nothing.
 * - A gap that stays open is reported by a {@link GapWatch} at warn.
 *
 * Readers skip `held` events (they are not steps): a step event's `seq` is then its position among
 * the steps, which the summary counts.
 *
 * @example
 * ```ts
 * const { state } = await DeliveryRecord.execute(store, 'd-1', { status: 'requested', seq: 1, at: Date.now() });
 * gaps.note('d-1', state);
 * ```
 * @module
 */
import type { Logger } from '@missive/core';
import { defineAggregate, type Aggregate, type EventStore } from '@missive/eventsourcing';

/** A step's status (the event's type in the stream). */
export type Status = 'requested' | 'assigned' | 'picked-up' | 'en-route' | 'delivered' | 'reassigning' | 'failed';
/** What the stream keeps of a step. */
export interface Step {
  readonly seq: number;
  readonly droneId?: string;
  readonly reason?: string;
  readonly at: number;
}
/** A step as the saga published it. */
export type Update = { readonly status: Status } & Step;
/** The stream's events: one per step (its status as the type), and `held` for a step after a gap. */
export type Events = Record<Status, Step> & { held: Update };
/** The last step recorded, and the steps held after a gap (by `seq`; plain data: snapshots are JSON). */
export interface State {
  readonly status: Status | 'unknown';
  readonly seq: number;
  readonly held: readonly Update[];
}

/** The type of the event that holds a step after a gap. */
export const HELD = 'held';

const ended = (status: State['status']): boolean => status === 'delivered' || status === 'failed';

/** The steps missing before the held ones (empty when nothing is held). */
export function missingSteps(state: State): number[] {
  const held = new Set((state.held ?? []).map((h) => h.seq));
  const last = Math.max(0, ...held);
  const missing: number[] = [];
  for (let seq = state.seq + 1; seq < last; seq++) if (!held.has(seq)) missing.push(seq);
  return missing;
}

/** The aggregate. */
export const DeliveryRecord: Aggregate<State, Events, Update> = defineAggregate<State, Events, Update>({
  name: 'delivery',
  initial: () => ({ status: 'unknown', seq: 0, held: [] }),
  apply(state, event) {
    const held = state.held ?? []; // a snapshot from before steps were held has none
    if (event.type === HELD)
      return { ...state, held: [...held.filter((h) => h.seq !== event.data.seq), event.data].sort((a, b) => a.seq - b.seq) };
    return { status: event.type, seq: event.data.seq, held: held.filter((h) => h.seq > event.data.seq) };
  },
  decide(state, update) {
    const held = state.held ?? [];
    if (update.seq <= state.seq || held.some((h) => h.seq === update.seq)) return []; // already recorded, or held
    if (ended(state.status)) throw new Error(`delivery already ended ${state.status}; step ${update.seq} ${update.status} refused`);
    if (update.seq > state.seq + 1) return [{ type: HELD, data: update }];
    // The next step, then the held steps it makes consecutive (none after the delivery's end).
    const bySeq = new Map(held.map((h) => [h.seq, h]));
    const events: { type: Status; data: Step }[] = [];
    for (let next: Update | undefined = update; next !== undefined; next = bySeq.get(next.seq + 1)) {
      const { status, ...step } = next;
      events.push({ type: status, data: step });
      if (ended(status)) break;
    }
    return events;
  },
  snapshotEvery: 20,
});

/** What a {@link GapWatch} needs. */
export interface GapWatchOptions {
  /** A gap open this long is reported. */
  readonly afterMs: number;
  readonly logger: Logger;
  /** The delivery's state now (another step may have closed the gap since it was noted). */
  readonly load: (deliveryId: string) => Promise<State>;
  readonly now?: () => number;
}

/**
 * Reports, at warn, a delivery whose gap stays open: steps held for `afterMs`, waiting for a step
 * that has not come (lost, or very late; the outbox relay keeps each delivery's steps in order, so
 * it should not happen). Once per gap; an info line when a reported gap closes. The service notes
 * each delivery's state after a step and calls {@link sweep} on a timer.
 */
export class GapWatch {
  /** Deliveries with a gap open, and since when. */
  private readonly open = new Map<string, number>();
  private readonly reported = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly options: GapWatchOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Deliveries with a gap open now (as last noted). */
  get size(): number {
    return this.open.size;
  }

  /** After a step of `deliveryId` was recorded or held: starts watching its gap, or stops once it is closed. */
  note(deliveryId: string, state: State): void {
    if ((state.held ?? []).length > 0) {
      if (!this.open.has(deliveryId)) this.open.set(deliveryId, this.now());
      return;
    }
    if (!this.open.delete(deliveryId)) return;
    if (this.reported.delete(deliveryId))
      this.options.logger.info({ deliveryId }, `history: delivery ${deliveryId}'s missing step arrived; its held steps are recorded`);
  }

  /** Reports every gap open for `afterMs` or more, not reported yet, that the delivery's current state still has. */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const [deliveryId, since] of [...this.open]) {
      if (now - since < this.options.afterMs || this.reported.has(deliveryId)) continue;
      const state = await this.options.load(deliveryId);
      if ((state.held ?? []).length === 0) {
        this.note(deliveryId, state);
        continue;
      }
      this.reported.add(deliveryId);
      const held = state.held.map((h) => h.seq);
      const missing = missingSteps(state);
      const waiting =
        missing.length === 0
          ? `after its end (step ${state.seq} ${state.status}): they will never be recorded`
          : `waiting for step(s) ${missing.join(', ')} (lost or late); they are recorded when it arrives`;
      this.options.logger.warn(
        { deliveryId, held: held.join(','), missing: missing.join(',') },
        `history: delivery ${deliveryId} has step(s) ${held.join(', ')} held for ${Math.round((now - since) / 1000)} s, ${waiting}`,
      );
    }
  }
}

/** Loads a delivery's state from `store` (what {@link GapWatchOptions.load} usually is). */
export function loadDelivery(store: EventStore): (deliveryId: string) => Promise<State> {
  return async (deliveryId) => (await DeliveryRecord.load(store, deliveryId)).state;
}
