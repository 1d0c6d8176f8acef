/**
 * Acks of one event-loop turn in one statement: each `ack` joins the turn's batch, the batch is one
 * token-checked `DELETE … USING unnest(seqs, tokens)`, and each ack's promise resolves after that
 * commit — true when its lease was still its own, false (logged) when the message had been
 * redelivered meanwhile.
 *
 * @example
 * ```ts
 * const acks = new AckBatcher((seqs, tokens) => deleteAcked(seqs, tokens), logger);
 * const ok = await acks.ack('42', token);
 * ```
 * @module
 */
import type { Logger } from '@missive/core';

/** Runs the batch's delete; resolves with the seqs it deleted. */
export type DeleteAcked = (seqs: string[], tokens: string[]) => Promise<ReadonlySet<string>>;

/** The batcher. */
export class AckBatcher {
  private readonly pending: { seq: string; token: string; resolve: (ok: boolean) => void; reject: (error: Error) => void }[] = [];

  constructor(
    private readonly deleteAcked: DeleteAcked,
    private readonly logger: Logger,
  ) {}

  /** Acks a delivery by its seq and lease token. */
  ack(seq: string, token: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ seq, token, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  /** Sends what is pending now (the transport calls it before closing). */
  async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      const deleted = await this.deleteAcked(
        batch.map((a) => a.seq),
        batch.map((a) => a.token),
      );
      for (const a of batch) {
        const ok = deleted.has(a.seq);
        if (!ok)
          this.logger.warn(
            { seq: a.seq },
            'an ack on the postgres transport found its lease lost (the message was redelivered); it was ignored',
          );
        a.resolve(ok);
      }
    } catch (error) {
      for (const a of batch) a.reject(error as Error);
    }
  }
}
