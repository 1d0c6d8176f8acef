/**
 * The ack subject of a JetStream delivery, read for its consumer: nats-server 2.9 writes
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>`; a
 * server with a JetStream domain and account adds them (`$JS.ACK.<domain>.<account hash>.<stream>.
 * <consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>.<token>`). The first form,
 * the one on every delivery here, is read in place, without splitting the subject (once per
 * message on the consumer's hot path), and the stream sequence only when asked for: only a
 * redelivery, a nack with headers or a dead letter needs it. Any other form is read token by token.
 *
 * @example
 * ```ts
 * const ack = readAckSubject(msg.reply, '$JS.ACK.MISSIVE_MSG.');
 * ack.consumer; // 'billing!d'
 * const seq = ack.streamSeq >= 0 ? ack.streamSeq : numberAt(msg.reply, ack.streamSeqAt);
 * ```
 * @module
 */

/** What a consumer reads of an ack subject. */
export interface AckSubject {
  /** The durable consumer (the lane) that delivered it. */
  readonly consumer: string;
  /** Deliveries of the message so far, this one included (NaN if the subject has none). */
  readonly delivered: number;
  /** The stream sequence, or -1 when not read yet (then it begins at {@link streamSeqAt}). */
  readonly streamSeq: number;
  /** Where the stream sequence begins in the subject, or -1 when {@link streamSeq} is given. */
  readonly streamSeqAt: number;
}

/** The decimal number in `text` from `from` to the next dot or the end; NaN if there is none. */
export function numberAt(text: string, from: number): number {
  let n = 0;
  let i = from;
  for (; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return i > from && (i === text.length || text.charCodeAt(i) === 46) ? n : Number.NaN;
}

/** Reads `reply`; `prefix` is `$JS.ACK.<stream>.` of the consumer's stream. */
export function readAckSubject(reply: string, prefix: string): AckSubject {
  if (reply.startsWith(prefix)) {
    const consumerEnd = reply.indexOf('.', prefix.length);
    // The short form has exactly five dots after the consumer: `.<delivered>.<seq>.<cseq>.<ts>.<pending>`.
    let dots = 0;
    let streamSeqAt = -1;
    for (let at = consumerEnd; at !== -1; at = reply.indexOf('.', at + 1)) if (++dots === 2) streamSeqAt = at + 1;
    if (consumerEnd > prefix.length && dots === 5) {
      const delivered = numberAt(reply, consumerEnd + 1);
      if (delivered > 0) return { consumer: reply.slice(prefix.length, consumerEnd), delivered, streamSeq: -1, streamSeqAt };
    }
  }
  const t = reply.split('.');
  const at = t.length === 9 ? 3 : 5;
  return { consumer: t[at] ?? '', delivered: Number(t[at + 1]), streamSeq: Number(t[at + 2]) || 0, streamSeqAt: -1 };
}
