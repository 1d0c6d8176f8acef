/**
 * Leasing messages for a consumer, inside the fetch's write transaction: up to `limit` candidates
 * of the queue are read in `seq` order (the free ones, and the held ones whose lease ran out when
 * `expired` allows), then marked with one token for the fetch, the owner and the
 * lease's end. A redelivered copy is leased by another fetch, with another token, so settling never
 * touches someone else's copy. Leases that ran out at or before `expired` are taken over too (0:
 * none; see `SqliteTransport.pump`). The write transaction keeps any other process from leasing
 * between the read and the mark.
 *
 * @example
 * ```ts
 * const rows = db.transaction(() => lease(s, { queue: 'billing', limit: 16, now, expired: 0, owner, until: now + 30_000 })).immediate();
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { FetchedRow } from './sqlite-consumer.js';
import type { SqliteStatements } from './sqlite-statements.js';

/** What to lease. */
export interface LeaseRequest {
  readonly queue: string;
  readonly limit: number;
  readonly now: number;
  /** Leases that ran out at or before this time are taken over (0: none). */
  readonly expired: number;
  /** The connection that holds the leases. */
  readonly owner: string;
  /** When the leases run out unless extended. */
  readonly until: number;
}

/** A row of `leaseRows` or `leaseExpired`, in their column order. */
type RawRow = [seq: number, id: string, type: string, body: Buffer, headers: string, partitionKey: string | null, deliveryCount: number];

/** Leases up to `request.limit` messages (inside the caller's write transaction); rows in `seq` order. */
export function lease(s: SqliteStatements, request: LeaseRequest): FetchedRow[] {
  const { queue, limit, now, expired, owner, until } = request;
  let read = s.leaseRows.all({ queue, now, limit }) as RawRow[];
  if (expired > 0) {
    const taken = s.leaseExpired.all({ queue, now, expired, limit }) as RawRow[];
    if (taken.length > 0)
      read = read
        .concat(taken)
        .sort((a, b) => a[0] - b[0])
        .slice(0, limit);
  }
  if (read.length === 0) return [];
  const token = randomUUID();
  const rows = new Array<FetchedRow>(read.length);
  let seqs = '[';
  for (let i = 0; i < read.length; i++) {
    const [seq, id, type, body, headers, partition_key, delivery_count] = read[i]!;
    rows[i] = { seq, id, type, body, headers, partition_key, delivery_count, token };
    seqs += i === 0 ? String(seq) : `,${seq}`;
  }
  s.leaseMark.run({ seqs: `${seqs}]`, owner, token, until });
  return rows;
}
