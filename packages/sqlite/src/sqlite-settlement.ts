/**
 * Settling deliveries on the SQLite transport, by lease token. Acks made in one event-loop turn
 * commit together: one transaction (one fsync with `synchronous=full`) for all of them, which also
 * leases the next messages for the slots they freed; each ack's promise resolves after that commit. A nack, release or dead-lettering is a write of its
 * own. A settle whose lease was lost (the message was redelivered meanwhile) changes nothing and
 * is logged: it can never settle another process's copy.
 *
 * @example
 * ```ts
 * const settlement = new SqliteSettlement(connection, () => (dueDirty = true), () => undefined);
 * await settlement.ack(row.seq, row.token);
 * ```
 * @module
 */
import type { SettleExtra, SettleKind, SqliteConnection } from './sqlite-link.js';

interface PendingAck {
  readonly seq: number;
  readonly token: string;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (error: Error) => void;
}

/** The settling of one connection's deliveries. */
export class SqliteSettlement {
  private acks: PendingAck[] = [];

  /**
   * `delayed` is told when a nack delays a message (the next due time must be looked up again).
   * `refill` runs inside the acks' transaction, after them: it may lease messages for the slots the
   * acks freed (one commit for both), and returns what to do with them once committed.
   */
  constructor(
    private readonly connection: SqliteConnection,
    private readonly delayed: () => void,
    private readonly refill: () => (() => void) | undefined,
  ) {}

  /** Deletes the message if its lease holds, with the turn's other acks; false when the lease was lost. */
  ack(seq: number, token: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.acks.push({ seq, token, resolve, reject });
      if (this.acks.length === 1) setImmediate(() => void this.flush());
    });
  }

  /** Commits the acks waiting (also at close). */
  async flush(): Promise<void> {
    const batch = this.acks;
    if (batch.length === 0) return;
    this.acks = [];
    const c = this.connection;
    try {
      let refilled: (() => void) | undefined;
      const results = await c.withBusyRetry(() => {
        if (!c.isOpen) return batch.map(() => 0);
        const ack = c.statements.ack;
        return c.db
          .transaction(() => {
            const changes = batch.map((a) => ack.run(a.seq, a.token).changes);
            refilled = this.refill();
            return changes;
          })
          .immediate();
      });
      refilled?.();
      for (let i = 0; i < batch.length; i++) {
        const a = batch[i]!;
        if (results[i] === 0)
          c.logger.warn(
            { seq: a.seq },
            'an ack on the sqlite transport found its lease lost (the message was redelivered); it was ignored',
          );
        a.resolve(results[i]! > 0);
      }
    } catch (error) {
      for (const a of batch) a.reject(error as Error);
    }
    c.wake();
  }

  /** Settles a delivery other than by an ack; false when the lease was lost. */
  settle(kind: SettleKind, seq: number, token: string, extra: SettleExtra = {}): Promise<boolean> {
    const c = this.connection;
    return c.withBusyRetry(() => {
      if (!c.isOpen) return false;
      const s = c.statements;
      let changed: number;
      if (kind === 'dead') {
        changed = c.db
          .transaction(() =>
            s.deadLetterCopy.run(JSON.stringify(extra.failure), seq, token).changes === 1 ? s.ack.run(seq, token).changes : 0,
          )
          .immediate();
      } else {
        const delayMs = kind === 'nack' ? (extra.delayMs ?? 0) : 0;
        if (delayMs > 0) this.delayed();
        changed = s.nack.run({
          seq,
          token,
          visible: delayMs > 0 ? c.clock.now() + delayMs : 0,
          headers: extra.headers === undefined ? null : JSON.stringify(extra.headers),
          undo: kind === 'release' ? 1 : 0,
        }).changes;
      }
      if (changed === 0)
        c.logger.warn({ seq }, `a ${kind} on the sqlite transport found its lease lost (the message was redelivered); it was ignored`);
      c.wake();
      return changed > 0;
    });
  }
}
