/**
 * Command owners on RabbitMQ, decided by the order of claim records in the `missive.registry`
 * stream (see `queue-registry.ts`). RabbitMQ has no compare-and-set a client can use for this,
 * but a stream has one order that every reader sees, so every transport that reads the same
 * records in the same order comes to the same owners:
 *
 * - a claim `{ claim, queue, types }` makes `queue` the owner of all its types if none of them is
 *   owned by another queue; otherwise the whole claim is refused (it changes nothing);
 * - a claim with `takeOver` makes `queue` the owner of all its types, whoever owned them;
 * - a queue's deletion record ends its ownerships.
 *
 * A claimant appends its claim, reads up to a marker it appends after it, and looks up how its
 * claim came out. Of two processes that claim one type at the same instant, the one whose record
 * landed first in the stream owns the type, and both see that.
 *
 * @example
 * ```ts
 * const book = new ClaimBook();
 * book.expect('c-1');
 * book.apply({ claim: 'c-1', queue: 'payment', service: 'pay', types: ['shop.charge-card'], takeOver: false, at: 0 });
 * book.outcome('c-1'); // { moved: [] }
 * ```
 * @module
 */
import type { CommandOwner } from '@missive/core';

/** A claim record. */
export interface ClaimRecord {
  /** The claim's id, so the claimant can find its outcome. */
  readonly claim: string;
  readonly queue: string;
  readonly service: string;
  readonly types: readonly string[];
  readonly takeOver: boolean;
  /** Epoch ms when it was appended (the claimant's clock). */
  readonly at: number;
}

/** How a claim came out. */
export type ClaimOutcome =
  | { readonly moved: readonly { readonly type: string; readonly from: string }[] }
  | { readonly refused: { readonly type: string; readonly owner: CommandOwner } };

/** The record of a claim. */
export function claimRecord(claim: ClaimRecord): Buffer {
  return Buffer.from(JSON.stringify(claim));
}

/** Reads a claim record out of a parsed registry value; undefined if it is not one. */
export function asClaimRecord(value: Record<string, unknown>): ClaimRecord | undefined {
  const { claim, queue, service, types, takeOver, at } = value;
  if (typeof claim !== 'string' || typeof queue !== 'string' || !Array.isArray(types) || !types.every((t) => typeof t === 'string'))
    return undefined;
  return {
    claim,
    queue,
    service: typeof service === 'string' ? service : '',
    types,
    takeOver: takeOver === true,
    at: typeof at === 'number' ? at : 0,
  };
}

/** Owners as the claim records read so far say. */
export class ClaimBook {
  private readonly byType = new Map<string, CommandOwner>();
  /** `queue\0type` of types taken over from a queue (its binding was removed; its queue record still names the type). */
  private readonly lost = new Set<string>();
  /** Outcomes of the claims someone waits for (by id), so the book does not keep every claim's. */
  private readonly outcomes = new Map<string, ClaimOutcome | undefined>();

  /** Applies one claim record, in stream order. */
  apply(record: ClaimRecord): void {
    const outcome = this.decide(record);
    if (this.outcomes.has(record.claim)) this.outcomes.set(record.claim, outcome);
  }

  private decide(record: ClaimRecord): ClaimOutcome {
    if (!record.takeOver) {
      for (const type of record.types) {
        const owner = this.byType.get(type);
        if (owner !== undefined && owner.queue !== record.queue) return { refused: { type, owner } };
      }
    }
    const moved: { type: string; from: string }[] = [];
    for (const type of record.types) {
      const owner = this.byType.get(type);
      if (owner?.queue === record.queue) continue;
      if (owner !== undefined) {
        moved.push({ type, from: owner.queue });
        this.lost.add(`${owner.queue}\0${type}`);
      }
      this.lost.delete(`${record.queue}\0${type}`);
      this.byType.set(type, { type, queue: record.queue, service: record.service, since: record.at });
    }
    return { moved };
  }

  /** Ends the ownerships of a deleted queue. */
  release(queue: string): void {
    for (const [type, owner] of this.byType) if (owner.queue === queue) this.byType.delete(type);
  }

  /** Whether `type` was taken over from `queue` (and not claimed back since). */
  lostBy(queue: string, type: string): boolean {
    return this.lost.has(`${queue}\0${type}`);
  }

  /** The owner of a type. */
  ownerOf(type: string): CommandOwner | undefined {
    return this.byType.get(type);
  }

  /** Every owner, by type. */
  list(): CommandOwner[] {
    return [...this.byType.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /** Keeps the outcome of claim `id` when its record is read. */
  expect(id: string): void {
    this.outcomes.set(id, undefined);
  }

  /** The outcome of an expected claim (undefined until its record was read), forgotten once taken. */
  outcome(id: string): ClaimOutcome | undefined {
    const outcome = this.outcomes.get(id);
    this.outcomes.delete(id);
    return outcome;
  }

  /** What the book holds, for a registry snapshot (`registry-snapshot.ts`). */
  state(): { readonly owners: CommandOwner[]; readonly lost: string[] } {
    return { owners: [...this.byType.values()], lost: [...this.lost] };
  }

  /** Takes the state of a snapshot, as if its records had been applied (waiting claims stay expected). */
  restore(state: { readonly owners: readonly CommandOwner[]; readonly lost: readonly string[] }): void {
    this.byType.clear();
    this.lost.clear();
    for (const owner of state.owners) this.byType.set(owner.type, owner);
    for (const key of state.lost) this.lost.add(key);
  }

  /** Forgets everything (a reader that starts again from the first record). Waiting claims stay expected. */
  clear(): void {
    this.byType.clear();
    this.lost.clear();
    for (const id of this.outcomes.keys()) this.outcomes.set(id, undefined);
  }
}
