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

/** Leases up to `request.limit` messages (inside the caller's write transaction); rows in `seq` order. */
export function lease(s: SqliteStatements, request: LeaseRequest): FetchedRow[] {
  const { queue, limit, now, expired, owner, until } = request;
  let rows = s.leaseRows.all({ queue, now, limit }) as FetchedRow[];
  if (expired > 0) {
    const taken = s.leaseExpired.all({ queue, now, expired, limit }) as FetchedRow[];
    if (taken.length > 0)
      rows = rows
        .concat(taken)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit);
  }
  if (rows.length === 0) return rows;
  const token = randomUUID();
  let seqs = '[';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    row.token = token;
    seqs += i === 0 ? String(row.seq) : `,${row.seq}`;
  }
  s.leaseMark.run({ seqs: `${seqs}]`, owner, token, until });
  return rows;
}
