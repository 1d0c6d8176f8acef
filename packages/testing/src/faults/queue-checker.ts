/**
 * A total-queue checker in the style of Jepsen's: every message of a run has a unique id, and the
 * history records what happened to each — attempted (a publish was started), confirmed (the
 * publish resolved), failed (it rejected), delivered (a handler received it, once per delivery)
 * and side effects (a handler finished its work). {@link checkQueue} then reports:
 *
 * - **lost**: confirmed and never delivered (the broker promised and did not keep it);
 * - **unexpected**: delivered and never attempted (something made up a message);
 * - **duplicated**: delivered more than once (at-least-once allows it; counted, not fatal), and
 *   side effects that ran more than once (0 with the inbox, and 0 when nothing crashed mid-work).
 *
 * A run is valid when nothing was lost and nothing unexpected arrived. A message whose publish
 * failed or never resolved may or may not arrive: it is neither lost nor unexpected if it does.
 *
 * @example
 * ```ts
 * const history = new QueueHistory();
 * history.attempt('m-1');
 * await bus.publish(Work, { id: 'm-1' });
 * history.confirm('m-1');
 * // in the handler: history.deliver(id); ...work...; history.effect(id);
 * const result = checkQueue(history);
 * expect(result.valid).toBe(true);
 * ```
 * @module
 */

/** What happened to the messages of one run. */
export class QueueHistory {
  readonly attempted = new Set<string>();
  readonly confirmed = new Set<string>();
  readonly failed = new Set<string>();
  /** Deliveries per id (handler invocations, including redeliveries). */
  readonly delivered = new Map<string, number>();
  /** Completed side effects per id. */
  readonly effects = new Map<string, number>();
  private listeners = new Set<() => void>();

  attempt(id: string): void {
    this.attempted.add(id);
  }

  confirm(id: string): void {
    this.confirmed.add(id);
  }

  fail(id: string): void {
    this.failed.add(id);
  }

  deliver(id: string): void {
    this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
    this.changed();
  }

  effect(id: string): void {
    this.effects.set(id, (this.effects.get(id) ?? 0) + 1);
    this.changed();
  }

  /** Publishes `id` through `publish`, recording the attempt and its outcome; never rejects. */
  async publish(id: string, publish: () => Promise<unknown>): Promise<boolean> {
    this.attempt(id);
    try {
      await publish();
      this.confirm(id);
      return true;
    } catch {
      this.fail(id);
      return false;
    }
  }

  /** Every confirmed message has had a side effect (what a waiter usually waits for). */
  allConfirmedDone(): boolean {
    for (const id of this.confirmed) if (!this.effects.has(id)) return false;
    return true;
  }

  /** Calls `listener` on every delivery and effect (for a waiter's `notify`). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The checker's verdict. */
export interface QueueCheck {
  readonly attempted: number;
  readonly confirmed: number;
  /** Publishes that rejected. */
  readonly failed: number;
  /** Distinct ids delivered. */
  readonly delivered: number;
  /** Deliveries in all, with redeliveries. */
  readonly deliveries: number;
  /** Confirmed, never delivered. */
  readonly lost: readonly string[];
  /** Delivered, never attempted. */
  readonly unexpected: readonly string[];
  /** Delivered more than once. */
  readonly duplicated: readonly string[];
  /** Side effects that ran more than once. */
  readonly duplicatedEffects: readonly string[];
  /** Attempted, not confirmed (failed or unresolved), and delivered anyway: allowed. */
  readonly recovered: number;
  /** lost = 0 and unexpected = 0. */
  readonly valid: boolean;
}

/** Checks a history. */
export function checkQueue(history: QueueHistory): QueueCheck {
  const lost = [...history.confirmed].filter((id) => !history.delivered.has(id));
  const unexpected = [...history.delivered.keys()].filter((id) => !history.attempted.has(id));
  const duplicated = [...history.delivered].filter(([, n]) => n > 1).map(([id]) => id);
  const duplicatedEffects = [...history.effects].filter(([, n]) => n > 1).map(([id]) => id);
  const recovered = [...history.delivered.keys()].filter((id) => history.attempted.has(id) && !history.confirmed.has(id)).length;
  let deliveries = 0;
  for (const n of history.delivered.values()) deliveries += n;
  return {
    attempted: history.attempted.size,
    confirmed: history.confirmed.size,
    failed: history.failed.size,
    delivered: history.delivered.size,
    deliveries,
    lost,
    unexpected,
    duplicated,
    duplicatedEffects,
    recovered,
    valid: lost.length === 0 && unexpected.length === 0,
  };
}

/** A one-line summary for failure messages and reports. */
export function describeCheck(check: QueueCheck): string {
  const sample = (ids: readonly string[]) =>
    ids.length === 0 ? '0' : `${ids.length} (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})`;
  return `attempted ${check.attempted}, confirmed ${check.confirmed}, failed ${check.failed}, delivered ${check.delivered} (${check.deliveries} deliveries), lost ${sample(check.lost)}, unexpected ${sample(check.unexpected)}, duplicated ${sample(check.duplicated)}, duplicated effects ${sample(check.duplicatedEffects)}`;
}
