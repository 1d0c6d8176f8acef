/**
 * Settling deliveries on the PostgreSQL transport, each by its lease token: acks are batched per
 * event-loop turn (`pg-acks.ts`); a nack returns the message in place (visible again now, or after
 * its delay), a release returns it without counting the delivery, a dead letter moves it to the
 * dead-letter table. A settle whose lease was lost (the message was redelivered) changes nothing,
 * is logged, and resolves false.
 *
 * @example
 * ```ts
 * const settlement = new PostgresSettlement(host);
 * await settlement.settle('nack', seq, token, { delayMs: 1000 });
 * ```
 * @module
 */
import type pg from 'pg';
import type { Clock, Logger } from '@missive/core';
import { AckBatcher } from './pg-acks.js';
import type { Named, Statements } from './statements.js';

/** What settling needs of the transport. */
export interface SettlementHost {
  readonly sql: Statements;
  readonly clock: Clock;
  readonly logger: Logger;
  isOpen(): boolean;
  /** Runs a statement on the consume pool. */
  run<R extends pg.QueryResultRow>(statement: Named | string, values: unknown[]): Promise<pg.QueryResult<R>>;
  /** Arms the due timer for a message visible again at `at`. */
  armDue(at: number): void;
  /** Tells every transport that `queue` has work. */
  notify(queue: string): void;
}

/** What a settle other than an ack carries. */
export interface SettleExtra {
  delayMs?: number;
  headers?: Readonly<Record<string, string>>;
  failure?: unknown;
}

/** Acks and settles deliveries. */
export class PostgresSettlement {
  private readonly acks: AckBatcher;

  constructor(private readonly host: SettlementHost) {
    this.acks = new AckBatcher(
      async (seqs, tokens) => new Set((await host.run<{ seq: string }>(host.sql.ack, [seqs, tokens])).rows.map((r) => r.seq)),
      host.logger,
    );
  }

  /** Acks a delivery by its lease token (batched per turn); false when the lease was lost. */
  ack(seq: string, token: string): Promise<boolean> {
    return this.acks.ack(seq, token);
  }

  /** Sends the pending acks now (before closing). */
  flush(): Promise<void> {
    return this.acks.flush();
  }

  /** Settles a delivery by its lease token; false when the lease was lost. */
  async settle(kind: 'nack' | 'release' | 'dead', seq: string, token: string, extra: SettleExtra = {}): Promise<boolean> {
    if (!this.host.isOpen()) return false;
    const { sql, clock } = this.host;
    let changed: number;
    if (kind === 'dead') {
      changed = (await this.host.run(sql.deadLetter, [seq, token, JSON.stringify(extra.failure)])).rowCount ?? 0;
    } else {
      const delay = kind === 'nack' ? (extra.delayMs ?? 0) : 0;
      const visible = delay > 0 ? clock.now() + delay : 0;
      const { rows } = await this.host.run<{ queue: string }>(sql.nack, [
        seq,
        token,
        visible,
        extra.headers === undefined ? null : JSON.stringify(extra.headers),
        kind === 'release' ? 1 : 0,
      ]);
      changed = rows.length;
      if (delay > 0) this.host.armDue(visible);
      else if (rows[0] !== undefined) this.host.notify(rows[0].queue);
    }
    if (changed === 0)
      this.host.logger.warn(
        { seq },
        `a ${kind} on the postgres transport found its lease lost (the message was redelivered); it was ignored`,
      );
    return changed > 0;
  }
}
