/**
 * Confirmed JetStream operations over core NATS: a publish with a reply subject whose answer is the
 * PubAck, and an ack whose answer is the server's ack-ack. nats.js's `js.publish` builds a request
 * object (and an `Error` with a stack) per call, which costs more than half the throughput; here
 * every pending operation is one small record in a map, all answers arrive on one wildcard
 * subscription (`<inbox>.<n>`), and one timer sweeps the operations whose answer is overdue.
 *
 * The operations of one event-loop turn go out together at its end (`setImmediate`): nats.js
 * writes to the socket once per microtask turn in which something was published, and the bus
 * publishes and settles from separate microtasks, so without this each message cost a write. The
 * acks of a turn (and nacks, "working") are written as one string of `PUB` lines, and its publishes
 * as one buffer of `HPUB` frames, handed to nats.js's protocol handler at once, instead of one
 * `nc.publish` each (its checks, `TextEncoder` calls and buffer entries per message: about half a
 * microsecond of CPU per ack); where nats.js does not have that handler (another version), each
 * goes through `nc.publish`.
 *
 * The promises keep JetStream's meaning: a publish resolves on the PubAck (the stream stored the
 * message, or had it already under the same `Nats-Msg-Id` within its duplicate window); it rejects
 * with `PublishRejectedError` when the server refuses (its JetStream error code in the message),
 * on "no responders" with `UnroutableError` where that means nobody takes the subject (a temporary
 * queue whose owner is gone), where a stream should answer (a cluster electing its leader) it publishes
 * again with a growing pause until the deadline, then rejects with a retryable `TransportError`; and with a retryable `TransportError` when no answer comes in time (it may or may not be stored: publish
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
import { WireHeaders } from './message-codec.js';

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly deadline: number;
  readonly subject: string;
  /** What "no responders" means: nobody takes the subject at all, or a stream that should is not answering now. */
  readonly silence: 'unroutable' | 'unavailable';
  /** What was published, for a retry after "no responders" from a stream (`unavailable`). */
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  /** Retries made so far. */
  retries: number;
}

/** The first wait before publishing again after a stream did not answer; it doubles up to {@link RETRY_MAX_MS}. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1_000;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
/** How a PubAck that stored the message begins (`{"stream":"…","seq":…}`, `"duplicate":true` when the window dropped a repeat). */
const STORED = encoder.encode('{"stream":');

/** Whether `data` begins with {@link STORED}: the one answer that needs no parsing. */
function stored(data: Uint8Array): boolean {
  if (data.length < STORED.length) return false;
  for (let i = 0; i < STORED.length; i++) if (data[i] !== STORED[i]) return false;
  return true;
}

/** What goes out at the end of a turn: a publish, or protocol lines written out (a turn's acks). */
interface Publish {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply: string | undefined;
  readonly headers: MsgHdrs | undefined;
}
type Outgoing = Publish | { lines: string; count: number; bytes: number };

/** nats.js's protocol handler (not in its typings): `sendCommand` queues bytes for the next write, as its `publish` does. */
interface Protocol {
  sendCommand(command: string | Uint8Array, ...payloads: Uint8Array[]): void;
  noMorePublishing: boolean;
  outMsgs: number;
  outBytes: number;
  /** The server's INFO (its `max_payload`), once connected. */
  info?: { readonly max_payload?: number };
}

/** The protocol handler of `nc`, if it is the nats.js this was written against. */
function protocolOf(nc: NatsConnection): Protocol | undefined {
  const protocol = (nc as unknown as { protocol?: Partial<Protocol> }).protocol;
  return typeof protocol?.sendCommand === 'function' &&
    typeof protocol.outMsgs === 'number' &&
    typeof protocol.noMorePublishing === 'boolean'
    ? (protocol as Protocol)
    : undefined;
}

/** The confirmed operations of one connection. */
export class Confirmer {
  private readonly pending = new Map<number, Pending>();
  private readonly inbox = createInbox();
  private next = 0;
  private subscription: Subscription | undefined;
  private readonly protocol: Protocol | undefined;
  private queued: Outgoing[] = [];
  /** Acks of this turn not yet in {@link queued}, as `PUB` lines (with how many), so that one string goes out for them. */
  private lines = '';
  private lineCount = 0;
  private lineBytes = 0;
  private hooks: (() => void)[] = [];
  private firstHooks: (() => void)[] = [];
  private scheduled = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.protocol = protocolOf(nc);
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (_error, msg) => this.answer(msg) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Publishes `data` on `subject` and resolves on its PubAck (the stream stored it, or had it under the same `Nats-Msg-Id`). */
  publish(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    silence: 'unroutable' | 'unavailable' = 'unavailable',
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { resolve, reject, deadline: Date.now() + this.timeoutMs, subject, silence, data, headers, retries: 0 });
      this.enqueue({ subject, data, reply: `${this.inbox}.${id}`, headers });
    });
  }

  /**
   * Sends an ack-protocol `body` (`+ACK`, `-NAK …`, `+WPI`, `+TERM`: ASCII) on `subject` at the end
   * of this turn, with no answer expected.
   */
  send(subject: string, body: string): void {
    this.schedule();
    if (this.protocol === undefined) {
      this.queued.push({ subject, data: encoder.encode(body), reply: undefined, headers: undefined });
      return;
    }
    this.lines += `PUB ${subject} ${body.length}\r\n${body}\r\n`;
    this.lineCount++;
    this.lineBytes += body.length;
  }

  /** Queues a publish, after the lines written so far (the order of one turn is kept). */
  private enqueue(out: Outgoing): void {
    this.schedule();
    this.cutLines();
    this.queued.push(out);
  }

  private cutLines(): void {
    if (this.lineCount === 0) return;
    this.queued.push({ lines: this.lines, count: this.lineCount, bytes: this.lineBytes });
    this.lines = '';
    this.lineCount = 0;
    this.lineBytes = 0;
  }

  /**
   * Runs `hook` at the end of this turn, after what the turn queued is handed to nats.js and in the
   * same write (a consumer asks for more messages there: its pull request and the acks that made
   * room for them go out together).
   */
  atTurnEnd(hook: () => void): void {
    this.schedule();
    this.hooks.push(hook);
  }

  /**
   * Runs `hook` at the end of this turn, before what the turn queued is handed to nats.js (the
   * publish batches of `batch.ts` are made there, from the whole turn's publishes); what it publishes
   * goes out in the same write.
   */
  beforeTurnEnd(hook: () => void): void {
    this.schedule();
    this.firstHooks.push(hook);
  }

  /** The server's `max_payload` (1 MiB, its default, before it is known). */
  get maxPayload(): number {
    return this.protocol?.info?.max_payload ?? 1024 * 1024;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what this turn queued, in one go (also at close, before the connection flushes). */
  flush(): void {
    // Still marked scheduled while these run: what they publish joins this write.
    while (this.firstHooks.length > 0) {
      const first = this.firstHooks;
      this.firstHooks = [];
      for (const hook of first) hook();
    }
    this.scheduled = false;
    this.cutLines();
    const queued = this.queued;
    this.queued = [];
    const hooks = this.hooks;
    this.hooks = [];
    this.publishAll(queued);
    for (const hook of hooks) hook();
  }

  private publishAll(queued: Outgoing[]): void {
    let run: Publish[] = [];
    for (const q of queued) {
      if ('lines' in q) {
        run = this.writeRun(run);
        this.write(q);
      } else if (this.protocol !== undefined && q.reply !== undefined && (q.headers === undefined || q.headers instanceof WireHeaders)) {
        run.push(q);
      } else {
        run = this.writeRun(run);
        this.publishOne(q);
      }
    }
    this.writeRun(run);
  }

  private publishOne(q: Publish): void {
    try {
      if (q.reply === undefined) this.nc.publish(q.subject, q.data);
      else this.nc.publish(q.subject, q.data, q.headers === undefined ? { reply: q.reply } : { reply: q.reply, headers: q.headers });
    } catch (error) {
      if (q.reply === undefined) return; // an ack that cannot go out: the ack wait brings the message back
      this.fail(q, new TransportError(`publish to ${q.subject} failed: ${(error as Error).message}`, { cause: error }));
    }
  }

  /** Rejects the pending publish `q` answers. */
  private fail(q: Publish, error: Error): void {
    const reply = q.reply ?? '';
    const id = Number(reply.slice(reply.lastIndexOf('.') + 1));
    const p = this.pending.get(id);
    this.pending.delete(id);
    p?.reject(error);
  }

  /**
   * Writes a turn's publishes (each with its reply subject, its header block written out) as one
   * buffer of `HPUB` frames handed to nats.js's protocol handler, instead of one `nc.publish` each
   * (per message it encodes the command line and the header block apart, and copies them into its
   * buffer once more); refused as `nc.publish` would refuse them (closed, draining, above the
   * server's `max_payload`). Returns a new empty run.
   */
  private writeRun(run: Publish[]): Publish[] {
    if (run.length === 0) return run;
    const protocol = this.protocol!;
    if (this.nc.isClosed() || protocol.noMorePublishing) {
      for (const q of run) this.fail(q, new TransportError(`publish to ${q.subject} failed: the NATS connection is closed or draining`));
      return [];
    }
    const max = protocol.info?.max_payload ?? Number.POSITIVE_INFINITY;
    const heads: string[] = [];
    let size = 0;
    let messages = 0;
    let bytes = 0;
    for (const q of run) {
      const block = q.headers === undefined ? undefined : (q.headers as unknown as WireHeaders).block;
      const hlen = block === undefined ? 0 : Buffer.byteLength(block);
      const length = hlen + q.data.length;
      if (length > max) {
        heads.push('');
        this.fail(q, new TransportError(`publish to ${q.subject} failed: ${length} bytes, above the server's max_payload of ${max}`));
        continue;
      }
      const head =
        block === undefined ? `PUB ${q.subject} ${q.reply} ${length}\r\n` : `HPUB ${q.subject} ${q.reply} ${hlen} ${length}\r\n${block}`;
      heads.push(head);
      size += head.length * 3 + q.data.length + 2; // a UTF-16 unit is at most 3 bytes of UTF-8
      messages++;
      bytes += length;
    }
    if (messages === 0) return [];
    const frames = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < run.length; i++) {
      const head = heads[i]!;
      if (head === '') continue;
      at += frames.write(head, at, 'utf8');
      const data = run[i]!.data;
      frames.set(data, at);
      at += data.length;
      frames[at++] = 13;
      frames[at++] = 10;
    }
    protocol.outMsgs += messages; // as nats.js's publish counts them (its `stats()`)
    protocol.outBytes += bytes;
    protocol.sendCommand(frames.subarray(0, at));
    return [];
  }

  /** Hands protocol lines to nats.js, where `nc.publish` would have put them; dropped where `nc.publish` would refuse them (closed, draining): the ack wait brings the messages back. */
  private write(out: { lines: string; count: number; bytes: number }): void {
    const protocol = this.protocol!;
    if (this.nc.isClosed() || protocol.noMorePublishing) return;
    protocol.outMsgs += out.count; // as nats.js's publish counts them (its `stats()`)
    protocol.outBytes += out.bytes;
    protocol.sendCommand(out.lines);
  }

  /** Sends an ack-protocol body (`+ACK`, `+TERM`, `-NAK …`) to a delivery's reply subject and waits for the server's confirmation. */
  async settle(reply: string, body: string): Promise<void> {
    await this.publish(reply, body === '+ACK' ? ACK : encoder.encode(body), undefined, 'unroutable');
  }

  /** `+ACK` to a delivery's reply subject: confirmed by the server, or only sent. */
  ack(reply: string, confirm: boolean): Promise<void> {
    if (confirm) return this.settle(reply, '+ACK');
    this.send(reply, '+ACK');
    return Promise.resolve();
  }

  /** Rejects everything still waiting and stops. */
  close(): void {
    this.flush();
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
    const code = msg.headers?.code ?? 0;
    if (code === 503 && this.retryLater(id, p)) return;
    this.pending.delete(id);
    if (code === 503) {
      return p.reject(
        p.silence === 'unroutable'
          ? new UnroutableError(p.subject, 'nothing on the NATS server takes this subject')
          : new TransportError(`no stream answered for ${p.subject} (no responders: a cluster electing a leader, or the stream is gone)`),
      );
    }
    if (code >= 400) return p.reject(new PublishRejectedError(`NATS refused ${p.subject}: ${code} ${msg.headers?.description ?? ''}`));
    if (msg.data.length === 0 || stored(msg.data)) return p.resolve();
    let answer: { error?: { code?: number; err_code?: number; description?: string } };
    try {
      answer = JSON.parse(decoder.decode(msg.data)) as typeof answer;
    } catch (error) {
      return p.reject(new PublishRejectedError(`NATS answered ${p.subject} with something that is not a PubAck`, { cause: error }));
    }
    if (answer.error !== undefined) {
      const { code: status, err_code: errCode, description } = answer.error;
      return p.reject(
        new PublishRejectedError(
          `JetStream refused ${p.subject}: ${description ?? 'no description'} (status ${status ?? '?'}, err_code ${errCode ?? '?'})`,
        ),
      );
    }
    p.resolve();
  }

  /**
   * "No responders" where a stream should answer (a cluster electing the stream's leader): publishes
   * it again (same `Nats-Msg-Id`, so it is stored once) after a growing pause, while that still ends
   * before its deadline. Returns false when it gives up.
   */
  private retryLater(id: number, p: Pending): boolean {
    if (p.silence !== 'unavailable' || this.subscription === undefined) return false;
    const pause = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** p.retries);
    if (Date.now() + pause >= p.deadline) return false;
    p.retries++;
    setTimeout(() => {
      if (this.pending.get(id) !== p || this.subscription === undefined) return;
      this.enqueue({ subject: p.subject, data: p.data, reply: `${this.inbox}.${id}`, headers: p.headers });
    }, pause).unref();
    return true;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) break; // deadlines grow with insertion order
      this.pending.delete(id);
      p.reject(
        new TransportError(
          `no confirmation for ${p.subject} within ${this.timeoutMs} ms (it may still be stored: retrying with the same message id stores it once)`,
        ),
      );
    }
  }
}
