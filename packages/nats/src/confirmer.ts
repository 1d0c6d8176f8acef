/**
 * Confirmed JetStream operations over core NATS: a publish with a reply subject whose answer is the
 * PubAck, and an ack whose answer is the server's ack-ack. nats.js's `js.publish` builds a request
 * object (and an `Error` with a stack) per call, which costs more than half the throughput; here
 * every pending operation is one small record in a map, all answers arrive on one wildcard
 * subscription (`<inbox>.<n>`), and one timer sweeps the operations whose answer is overdue.
 *
 * The promises keep JetStream's meaning: a publish resolves with the PubAck (the stream stored the
 * message, or had it already under the same `Nats-Msg-Id` within its duplicate window); it rejects
 * with `PublishRejectedError` when the server refuses (its JetStream error code in the message),
 * with `UnroutableError` when nothing listens on the subject (no stream, no temporary queue), and with
 * a retryable `TransportError` when no answer comes in time (it may or may not be stored: publish
 * again with the same message id and the duplicate window keeps one copy).
 *
 * @example
 * ```ts
 * const confirmer = new Confirmer(nc, 10_000);
 * const ack = await confirmer.publish('missive._.q.billing', body, hdrs);
 * ```
 * @module
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { PublishRejectedError, TransportError, UnroutableError } from '@missive/core';

/** What JetStream answers to a publish. */
export interface PubAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate?: boolean;
}

interface Pending {
  readonly resolve: (value: PubAck) => void;
  readonly reject: (error: Error) => void;
  readonly deadline: number;
  readonly subject: string;
}

const decoder = new TextDecoder();
const EMPTY_ACK: PubAck = Object.freeze({ stream: '', seq: 0 });

/** The confirmed operations of one connection. */
export class Confirmer {
  private readonly pending = new Map<number, Pending>();
  private readonly inbox = createInbox();
  private next = 0;
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (_error, msg) => this.answer(msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Publishes `data` on `subject` and resolves with the PubAck. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject });
      try {
        this.nc.publish(subject, data, headers === undefined ? { reply: `${this.inbox}.${id}` } : { reply: `${this.inbox}.${id}`, headers });
      } catch (error) {
        this.pending.delete(id);
        reject(new TransportError(`publish to ${subject} failed: ${(error as Error).message}`, { cause: error }));
      }
    });
  }

  /** Sends an ack-protocol body (`+ACK`, `+TERM`, `-NAK …`) to a delivery's reply subject and waits for the server's confirmation. */
  async settle(reply: string, body: string): Promise<void> {
    await this.publish(reply, new TextEncoder().encode(body), undefined);
  }

  /** Rejects everything still waiting and stops. */
  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new TransportError(`the NATS connection closed before ${p.subject} was confirmed`));
    }
  }

  private answer(msg: Msg): void {
    const subject = msg.subject;
    const id = Number(subject.slice(subject.lastIndexOf('.') + 1));
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    const code = msg.headers?.code ?? 0;
    if (code === 503) return p.reject(new UnroutableError(p.subject, 'nothing on the NATS server takes this subject'));
    if (code >= 400) return p.reject(new PublishRejectedError(`NATS refused ${p.subject}: ${code} ${msg.headers?.description ?? ''}`));
    if (msg.data.length === 0) return p.resolve(EMPTY_ACK);
    let answer: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      answer = JSON.parse(decoder.decode(msg.data)) as typeof answer;
    } catch (error) {
      return p.reject(new PublishRejectedError(`NATS answered ${p.subject} with something that is not a PubAck`, { cause: error }));
    }
    if (answer.error !== undefined) {
      const { code: status, err_code: errCode, description } = answer.error;
      return p.reject(new PublishRejectedError(`JetStream refused ${p.subject}: ${description ?? 'no description'} (status ${status ?? '?'}, err_code ${errCode ?? '?'})`));
    }
    p.resolve(answer as PubAck);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) break; // deadlines grow with insertion order
      this.pending.delete(id);
      p.reject(new TransportError(`no confirmation for ${p.subject} within ${this.timeoutMs} ms (it may still be stored: retrying with the same message id stores it once)`));
    }
  }
}
