/**
 * A consumer of one queue: a pull loop over each of the queue's lanes (durable consumers of the
 * messages stream), feeding one delivery buffer. Pull requests go out as plain core NATS messages
 * to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<lane>` with this consumer's inbox as the reply; messages
 * and status answers (408 expired, 409 refused, 100 heartbeat) come back on that inbox.
 *
 * Flow control: the consumer asks for at most `prefetch` messages beyond those it holds, shared
 * over its lanes, except that each lane keeps one request out so that no lane waits for another's
 * request to expire (a queue with n bindings can hold up to prefetch + n − 1). A partition lane
 * (`max_ack_pending` 1) asks for one message when it holds none: the server hands a partition's
 * messages out one at a time, in order, across every instance.
 *
 * Un-settled deliveries are kept alive with `+WPI` (JetStream's "working") every third of the ack
 * wait, or every two seconds if that is sooner (one timer for the consumer, not one per delivery),
 * so a long handler keeps its message while a crashed process's messages come back after one ack
 * wait. A pull request carries an idle heartbeat; a lane that hears nothing for three
 * heartbeats (the server restarted, the connection was cut) asks again.
 *
 * A batch message (`batch` option, see `batch.ts`) becomes one delivery per member
 * ({@link MemberDelivery}), held together by a {@link HeldBatch} that acks the message once every
 * member is settled; a nack or dead letter of a member writes it alone, and a batch message
 * JetStream delivers again is split into its members, each written alone (see {@link NatsConsumer.split}).
 *
 * @example
 * ```ts
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * for await (const delivery of consumer) await delivery.ack();
 * ```
 * @module
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { ErrorCode, type DeadLetterFailure, type Logger, type TransportMessage } from '@missive/core';
import { BufferedConsumer, SETTLED, SettleOnceDelivery, withHeaders, type NackOptions } from '@missive/core/transport';
import type { LaneInfo } from './bindings.js';
import type { Confirmer } from './confirmer.js';
import { numberAt, readAckSubject } from './ack-subject.js';
import { copyBlock, isBatch, readBatch, type Member } from './batch.js';
import {
  decodeBlock,
  decodeReceived,
  NatsHeader,
  UnreadableHeaderError,
  unreadableBlock,
  unreadableMessage,
  WireHeaders,
  type ReceivedMeta,
} from './message-codec.js';
import { topicOfSubject } from './naming.js';

/** How long one pull request waits at the server. Short, because a request of a closed consumer lingers there until it expires (see {@link HANDBACK_DELAY_MS}). */
const PULL_EXPIRES_MS = 5_000;
const HEARTBEAT_MS = 2_000;
/** How long a request for more than one message waits at the server. */
const BATCH_EXPIRES_MS = 1_000;
/**
 * A message handed back by a closing consumer is nacked with this delay, so that it is due only
 * after this consumer's pull requests expired. nats-server 2.9 counts a delivery attempt to a
 * request whose subscriber is gone, so a message handed back at once could have its delivery count
 * grow without any handler seeing it (and be dead-lettered as a poison message too early).
 */
const HANDBACK_DELAY_MS = PULL_EXPIRES_MS + 500;
const HANDBACK = `-NAK {"delay":${HANDBACK_DELAY_MS * 1_000_000}}`;
const WPI = '+WPI';
const ACK = '+ACK';

/**
 * How long after its last extension a delivery is still surely held by this process: the ack wait
 * less a fifth (the server's clock started when it sent the delivery or received the `+WPI`, a
 * little before this process's).
 */
function leaseMs(ackWaitMs: number): number {
  return ackWaitMs - ackWaitMs / 5;
}

/** An ack the server answers with "no responders": the lane (consumer) was deleted, and its hold on the message with it. */
function goneIsDone(error: unknown): void {
  if ((error as { code?: string }).code !== ErrorCode.Unroutable) throw error;
}
const encoder = new TextEncoder();

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  readonly nc: NatsConnection;
  readonly confirmer: Confirmer;
  readonly stream: string;
  readonly ackWaitMs: number;
  /** Whether `ack` waits for the server's confirmation (else it resolves once sent, as on RabbitMQ). */
  readonly confirmAcks: boolean;
  readonly logger: Logger;
  /** Headers a `nack` stored for this delivery, if any. */
  storedHeaders(lane: string, streamSeq: number): Promise<Readonly<Record<string, string>> | undefined>;
  storeHeaders(lane: string, streamSeq: number, headers: Readonly<Record<string, string>>): Promise<void>;
  forgetHeaders(lane: string, streamSeq: number): void;
  /** Stores the dead letter (idempotently, keyed by `dedupId`). */
  deadLetter(queue: string, message: TransportMessage, failure: DeadLetterFailure, dedupId: string): Promise<void>;
  /** Whether message `id`'s dead letter in `queue` was written under `dedupId`. */
  deadLettered(queue: string, id: string, dedupId: string): Promise<boolean>;
  /** The subject of `queue`'s direct sends without a key (`<p>._.q.<queue>`): where a member of a batch message is written again alone. */
  directSubject(queue: string): string;
  /** The subject a message scheduled under `scheduleId` is stored on (see `scheduler.ts`). */
  scheduleSubject(scheduleId: string): string;
  forget(consumer: NatsConsumer): void;
  /** Records a running consumer of `queue` for `queues()` across processes; the function records its stop. */
  present(queue: string): () => Promise<void>;
}

interface Lane {
  readonly info: LaneInfo;
  readonly index: number;
  requested: number;
  holding: number;
  heardAt: number;
  pausedUntil: number;
  /** When its last message came (0: never); the lane that gets the room. */
  messageAt: number;
  /** Messages in the last JetStream message it had (a batch message holds several, see `batch.ts`): how much room a request takes. */
  perMessage: number;
}

class NatsDelivery extends SettleOnceDelivery {
  hadStoredHeaders = false;
  /** Why the message's headers could not be read (the bus dead-letters it as it is). */
  unreadable: string | undefined = undefined;
  /** When the server last started this delivery's ack wait: its arrival, then each `+WPI` sent. */
  private extendedAt: number;
  private lapsed = false;
  private streamSeq_: number;

  /** `streamSeqAt`: where the stream sequence begins in `reply`, or -1 with `streamSeq` given (read lazily: only a retry, a nack with headers or a dead letter needs it). */
  constructor(
    private readonly consumer: NatsConsumer,
    readonly lane: Lane,
    readonly reply: string,
    private readonly streamSeqAt: number,
    streamSeq: number,
    readonly deliveryCount: number,
    readonly message: TransportMessage,
    now: number,
  ) {
    super(consumer);
    this.extendedAt = now;
    this.streamSeq_ = streamSeq;
  }

  /** The message's sequence in the stream (from the ack subject). */
  get streamSeq(): number {
    if (this.streamSeq_ < 0) this.streamSeq_ = numberAt(this.reply, this.streamSeqAt) || 0;
    return this.streamSeq_;
  }

  /**
   * Whether the delivery's ack wait may have run out at the server (this process did not extend it
   * in time: its event loop was blocked, or it was suspended). JetStream then hands the message to
   * another instance, and an ack, nack or dead letter sent now under this delivery's reply subject
   * would settle *that* copy: a late ack of a copy that is being retried elsewhere loses it. So a
   * lapsed delivery is not settled at all: the other copy (or, if there is none, a redelivery after
   * the ack wait) carries on. At least once: the handler may run twice, nothing is lost.
   */
  private lapsedNow(): boolean {
    this.lapsed ||= Date.now() - this.extendedAt > leaseMs(this.consumer.host.ackWaitMs);
    return this.lapsed;
  }

  /** Logs that a lapsed delivery was not settled. */
  private skip(what: string): boolean {
    if (!this.lapsedNow()) return false;
    this.consumer.host.logger.warn(
      { queue: this.lane.info.queue, messageId: this.message.id, streamSeq: this.streamSeq },
      `nats: ${what} not sent: the delivery's ack wait ran out before (event loop blocked?); JetStream redelivers the message`,
    );
    return true;
  }

  protected onAck(): Promise<void> {
    if (this.skip('ack')) return SETTLED;
    const host = this.consumer.host;
    if (host.confirmAcks || this.hadStoredHeaders) return this.ackConfirmed();
    host.confirmer.send(this.reply, ACK); // goes out at the end of the turn, with the turn's other acks
    return SETTLED;
  }

  private async ackConfirmed(): Promise<void> {
    const host = this.consumer.host;
    await host.confirmer.ack(this.reply, host.confirmAcks).catch(goneIsDone);
    if (this.hadStoredHeaders) host.forgetHeaders(this.lane.info.name, this.streamSeq);
  }

  protected async onNack(options: NackOptions): Promise<void> {
    if (this.skip('nack')) return;
    if (options.headers !== undefined) await this.consumer.host.storeHeaders(this.lane.info.name, this.streamSeq, options.headers);
    const delay = Math.max(this.consumer.closed ? HANDBACK_DELAY_MS : 0, Math.round(options.delayMs ?? 0));
    this.consumer.host.confirmer.send(this.reply, delay > 0 ? `-NAK {"delay":${delay * 1_000_000}}` : '-NAK');
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    if (this.skip('dead letter')) return;
    const host = this.consumer.host;
    await host.deadLetter(this.lane.info.queue, this.message, failure, `dlq:${this.lane.info.name}:${this.streamSeq}`);
    await host.confirmer.settle(this.reply, '+ACK').catch(goneIsDone); // confirmed: the dead letter is stored, the original must go
    if (this.hadStoredHeaders) host.forgetHeaders(this.lane.info.name, this.streamSeq);
  }

  /** Hands the message back (its consumer closed before it was settled). */
  giveBack(): void {
    if (!this.settleOnce() || this.lapsedNow()) return;
    try {
      this.consumer.host.nc.publish(this.reply, HANDBACK);
    } catch {
      /* connection gone: the ack wait brings it back */
    }
  }

  /** Extends the ack wait (`+WPI`), unless it may have run out already (see {@link lapsedNow}). */
  working(): void {
    if (this.lapsedNow()) return;
    this.extendedAt = Date.now();
    this.consumer.host.confirmer.send(this.reply, WPI);
  }
}

/**
 * A batch message this consumer holds (see `batch.ts`): one delivery per member, and the message
 * is acked once every member is settled. A nack or dead letter of a member writes that member alone
 * (and counts as settled here); `working()` of any member extends the whole message.
 */
class HeldBatch {
  /** Members not settled yet. */
  private remaining: number;
  /** A member's write failed: the message is nacked, not acked, once every member is settled (its redelivery is split). */
  private failed = false;
  private extendedAt: number;
  private lapsed = false;

  constructor(
    readonly consumer: NatsConsumer,
    readonly lane: Lane,
    readonly reply: string,
    readonly streamSeq: number,
    readonly delivered: number,
    /** The topic of its subject (`''` for a queue's): a copy written to the queue's own subject names it. */
    readonly topic: string,
    count: number,
    now: number,
  ) {
    this.remaining = count;
    this.extendedAt = now;
  }

  /** As {@link NatsDelivery}'s: whether the message's ack wait may have run out at the server (then nothing of it is settled here). */
  lapsedNow(): boolean {
    this.lapsed ||= Date.now() - this.extendedAt > leaseMs(this.consumer.host.ackWaitMs);
    return this.lapsed;
  }

  /** Logs that a member of a lapsed batch message was not settled. */
  skip(what: string, messageId: string): boolean {
    if (!this.lapsedNow()) return false;
    this.consumer.host.logger.warn(
      { queue: this.lane.info.queue, messageId, streamSeq: this.streamSeq },
      `nats: ${what} not sent: the batch message's ack wait ran out before (event loop blocked?); JetStream redelivers it, split`,
    );
    return true;
  }

  /** Extends the ack wait (`+WPI`); once for all the members the keep-alive round extends at once. */
  working(): void {
    if (this.lapsedNow()) return;
    const now = Date.now();
    if (now - this.extendedAt < 100) return;
    this.extendedAt = now;
    this.consumer.host.confirmer.send(this.reply, WPI);
  }

  /** A member is settled (its write, if any, confirmed): the last one acks the message. */
  done(): Promise<void> {
    if (--this.remaining > 0 || this.lapsedNow()) return SETTLED;
    const host = this.consumer.host;
    if (this.failed) {
      host.confirmer.send(this.reply, '-NAK');
      return SETTLED;
    }
    if (host.confirmAcks) return host.confirmer.ack(this.reply, true).catch(goneIsDone);
    host.confirmer.send(this.reply, ACK);
    return SETTLED;
  }

  /** A member's write failed: it is not settled at the server, so the message must come back. */
  fail(): void {
    this.failed = true;
    void this.done();
  }

  /**
   * Writes member `index` alone to the queue's direct subject (or, with `delayMs`, schedules it
   * there), under the `Nats-Msg-Id` `<lane>:<stream seq>:<index>`: a member of a batch message is
   * written alone at most once per lane (by a nack, a hand-back or a split of a later delivery), so a
   * write repeated after a lost reply, or a split after a crash that followed the member's nack, is
   * stored once (within the duplicate window). Not the delivery count in it: nats-server 2.9 also
   * counts deliveries to pull requests a dead consumer left, so a split cannot know which count the
   * nack used.
   */
  async writeAlone(
    member: Member,
    index: number,
    deliveries: number,
    headers: Readonly<Record<string, string>> | undefined,
    delayMs: number,
  ): Promise<void> {
    const host = this.consumer.host;
    const id = `${this.lane.info.name}:${this.streamSeq}:${index}`;
    const direct = host.directSubject(this.lane.info.queue);
    if (delayMs > 0) {
      const extra = `${NatsHeader.Due}: ${Date.now() + delayMs}\r\n${NatsHeader.Target}: ${direct}\r\n`;
      const block = copyBlock(member.block, { msgId: `sched:${id}`, deliveries, topic: this.topic, headers, extra });
      await host.confirmer.publish(host.scheduleSubject(id), member.data, new WireHeaders(block) as never);
    } else {
      const block = copyBlock(member.block, { msgId: id, deliveries, topic: this.topic, headers });
      await host.confirmer.publish(direct, member.data, new WireHeaders(block) as never);
    }
  }
}

/** One message of a batch message. */
class MemberDelivery extends SettleOnceDelivery {
  /** Why the message's headers could not be read (the bus dead-letters it as it is). */
  unreadable: string | undefined = undefined;

  constructor(
    consumer: NatsConsumer,
    readonly batch: HeldBatch,
    readonly member: Member,
    readonly index: number,
    readonly message: TransportMessage,
  ) {
    super(consumer);
  }

  get lane(): Lane {
    return this.batch.lane;
  }

  get deliveryCount(): number {
    return this.batch.delivered;
  }

  protected onAck(): Promise<void> {
    if (this.batch.skip('ack', this.message.id)) return SETTLED;
    return this.batch.done();
  }

  protected async onNack(options: NackOptions): Promise<void> {
    if (this.batch.skip('nack', this.message.id)) return;
    await this.settleBy(() =>
      this.batch.writeAlone(this.member, this.index, this.batch.delivered, options.headers, Math.round(options.delayMs ?? 0)),
    );
  }

  protected async onDeadLetter(failure: DeadLetterFailure): Promise<void> {
    if (this.batch.skip('dead letter', this.message.id)) return;
    const b = this.batch;
    await this.settleBy(() =>
      b.consumer.host.deadLetter(b.lane.info.queue, this.message, failure, `dlq:${b.lane.info.name}:${b.streamSeq}:${this.index}`),
    );
  }

  private async settleBy(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.batch.fail();
      throw error;
    }
    await this.batch.done();
  }

  /**
   * Hands the message back (its consumer closed before it was read): written alone to the queue, as
   * a nack does. Nobody waits for it, so a failure (of the write, or of the batch message's ack that
   * the last member sends) is logged here: JetStream redelivers the batch message, split.
   */
  giveBack(): void {
    if (!this.settleOnce() || this.batch.lapsedNow()) return;
    const batch = this.batch;
    batch
      .writeAlone(this.member, this.index, batch.delivered, undefined, 0)
      .then(
        () => batch.done(),
        (error: unknown) => {
          batch.fail();
          throw error;
        },
      )
      .catch((error: unknown) =>
        batch.consumer.host.logger.warn(
          { queue: batch.lane.info.queue, messageId: this.message.id, streamSeq: batch.streamSeq, err: error },
          'nats: handing back a member of a batch message failed; JetStream redelivers the batch message, split',
        ),
      );
  }

  working(): void {
    this.batch.working();
  }
}

type AnyDelivery = NatsDelivery | MemberDelivery;

/** The consumer of one queue. */
export class NatsConsumer extends BufferedConsumer<AnyDelivery> {
  readonly ready: Promise<void>;
  private readonly held = new Set<AnyDelivery>();
  /** What the last decoded message said besides itself (reused: no object per message). */
  private readonly meta: ReceivedMeta = { prior: 0 };
  private readonly inbox = createInbox();
  /** How the ack subjects of this consumer's deliveries begin: `$JS.ACK.<stream>.`. */
  private readonly ackPrefix: string;
  private lanes: Lane[] = [];
  private pumpQueued = false;
  private readonly byName = new Map<string, Lane>();
  private subscription: Subscription | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private leave: (() => Promise<void>) | undefined;

  constructor(
    readonly host: ConsumerHost,
    readonly queue: string,
    prefetch: number,
    lanes: Promise<readonly LaneInfo[]>,
  ) {
    super('nats', prefetch);
    this.ackPrefix = `$JS.ACK.${host.stream}.`;
    this.ready = lanes.then((infos) => this.start(infos));
    this.ready.catch(() => undefined);
  }

  private start(infos: readonly LaneInfo[]): void {
    if (this.buffer.closed) return;
    this.lanes = infos.map((info, index) => ({
      info,
      index,
      requested: 0,
      holding: 0,
      heardAt: Date.now(),
      pausedUntil: 0,
      messageAt: 0,
      perMessage: 1,
    }));
    for (const lane of this.lanes) this.byName.set(lane.info.name, lane);
    this.subscription = this.host.nc.subscribe(`${this.inbox}.*`, { callback: (_error, msg) => this.receive(msg) });
    const every = Math.max(250, Math.min(HEARTBEAT_MS, Math.floor(this.host.ackWaitMs / 3)));
    this.keepAlive = setInterval(() => this.tick(), every);
    this.keepAlive.unref();
    this.leave = this.host.present(this.queue);
    this.pump();
  }

  /**
   * Requests messages for lanes that have room: a partition lane one when it holds none; every
   * other lane keeps a request for one out (so no lane waits for another's request to expire), and
   * the room left goes to the lane that had a message last.
   */
  pump(): void {
    if (this.closed || this.subscription === undefined) return;
    const now = Date.now();
    let free = this.prefetch - this.held.size;
    let busiest: Lane | undefined;
    for (const lane of this.lanes) {
      free -= lane.requested * lane.perMessage;
      if (lane.pausedUntil > now) continue;
      if (lane.info.serial) {
        if (lane.requested === 0 && lane.holding === 0) this.request(lane, 1);
      } else if (busiest === undefined || lane.messageAt > busiest.messageAt) {
        busiest = lane;
      }
    }
    if (busiest === undefined || this.held.size >= this.prefetch) return;
    for (const lane of this.lanes) {
      if (lane.info.serial || lane.requested > 0 || lane.pausedUntil > now) continue;
      this.request(lane, 1);
      free -= lane.perMessage;
    }
    // A lane gets a batch only once it has had a message: a batch request sits at the server until
    // it is filled or expires, and meanwhile the other lanes have less room.
    // Room is counted in messages: a lane whose last JetStream message was a batch of n asks for a nth as many (at least one).
    if (free > 0 && busiest.messageAt > 0) this.request(busiest, Math.max(1, Math.floor(free / busiest.perMessage)));
  }

  /**
   * Pumps once at the end of this event-loop turn, in the confirmer's write: the settles of one turn
   * (the bus settles a burst of deliveries in microtasks) become one request for all the room they
   * freed, sent with their acks.
   */
  private later(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    this.host.confirmer.atTurnEnd(this.pumpLater);
  }

  private readonly pumpLater = (): void => {
    this.pumpQueued = false;
    this.pump();
  };

  private request(lane: Lane, batch: number): void {
    lane.requested += batch;
    if (lane.requested === batch) lane.heardAt = Date.now();
    // A batch expires soon (its room goes elsewhere if the lane goes quiet); a single-message request
    // waits longer, with heartbeats that tell a lost request from a quiet lane.
    const body =
      batch > 1
        ? `{"batch":${batch},"expires":${BATCH_EXPIRES_MS * 1_000_000}}`
        : `{"batch":1,"expires":${PULL_EXPIRES_MS * 1_000_000},"idle_heartbeat":${HEARTBEAT_MS * 1_000_000}}`;
    try {
      this.host.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.host.stream}.${lane.info.name}`, encoder.encode(body), {
        reply: `${this.inbox}.${lane.index}`,
      });
    } catch (error) {
      lane.requested -= batch;
      this.host.logger.debug({ queue: this.queue, err: error }, 'nats: a pull request could not be sent');
    }
  }

  private receive(msg: Msg): void {
    const reply = msg.reply;
    if (reply === undefined || reply === '') {
      // A status of a pull request, on the request's own reply subject (ends with the lane's index).
      const lane = this.lanes[Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1))];
      if (lane === undefined) return;
      lane.heardAt = Date.now();
      const code = msg.headers?.code ?? 0;
      if (code === 100) return; // idle heartbeat
      const left = Number(msg.headers?.get('Nats-Pending-Messages') || NaN);
      lane.requested = Number.isNaN(left) ? 0 : Math.max(0, lane.requested - left);
      // 408: the request expired; anything else (409 too many requests, consumer deleted, …): wait a
      // moment before asking again, so a refusing server is not asked in a loop.
      if (code !== 408) lane.pausedUntil = Date.now() + 1000;
      this.pump();
      return;
    }
    // A message: its subject is its own, its reply (the ack subject) names the lane and counts.
    const now = Date.now();
    const ack = readAckSubject(reply, this.ackPrefix);
    const lane = this.byName.get(ack.consumer);
    const delivered = ack.delivered;
    if (lane === undefined) return;
    lane.heardAt = lane.messageAt = now;
    if (lane.requested > 0) lane.requested--;
    if (isBatch(msg)) {
      this.receiveBatch(msg, reply, lane, ack.streamSeq >= 0 ? ack.streamSeq : numberAt(reply, ack.streamSeqAt) || 0, delivered, now);
      return;
    }
    lane.perMessage = 1;
    let message: TransportMessage;
    let unreadable: string | undefined;
    const meta = this.meta; // one per consumer: read right below, before anything else can decode
    meta.prior = 0;
    try {
      message = decodeReceived(msg, meta);
    } catch (error) {
      if (!(error instanceof UnreadableHeaderError)) throw error;
      message = unreadableMessage(msg);
      unreadable = error.message;
    }
    if (this.buffer.closed) {
      this.host.nc.publish(reply, HANDBACK);
      return;
    }
    // A message written again alone out of a batch message carries the deliveries it had before.
    const deliveries = delivered + meta.prior;
    if (delivered > 1) {
      // A redelivery: headers a nack stored for it replace the published ones.
      const at = lane;
      const seq = ack.streamSeq >= 0 ? ack.streamSeq : numberAt(reply, ack.streamSeqAt) || 0;
      void this.host.storedHeaders(lane.info.name, seq).then(
        (stored) => {
          const delivery = new NatsDelivery(
            this,
            at,
            reply,
            -1,
            seq,
            deliveries,
            stored === undefined ? message : withHeaders(message, stored),
            now,
          );
          delivery.hadStoredHeaders = stored !== undefined;
          delivery.unreadable = unreadable;
          this.hand(at, delivery);
        },
        () => {
          const delivery = new NatsDelivery(this, at, reply, -1, seq, deliveries, message, now);
          delivery.unreadable = unreadable;
          this.hand(at, delivery);
        },
      );
      return;
    }
    const delivery = new NatsDelivery(this, lane, reply, ack.streamSeqAt, ack.streamSeq, deliveries, message, now);
    if (unreadable !== undefined) delivery.unreadable = unreadable;
    this.hand(lane, delivery);
  }

  /**
   * A batch message (see `batch.ts`): one delivery per member, in order. Redelivered (its consumer
   * died or did not settle it in time), it is split instead: see {@link split}. One whose payload
   * cannot be read is one delivery, unreadable (the bus dead-letters it as it is, with the reason).
   */
  private receiveBatch(msg: Msg, reply: string, lane: Lane, seq: number, delivered: number, now: number): void {
    if (this.buffer.closed) {
      this.host.nc.publish(reply, HANDBACK);
      return;
    }
    let members: Member[];
    try {
      members = readBatch(msg.data, msg.headers?.get(NatsHeader.Batch) ?? '');
    } catch (error) {
      lane.perMessage = 1;
      const delivery = new NatsDelivery(this, lane, reply, -1, seq, delivered, unreadableMessage(msg), now);
      delivery.unreadable = `batch message ${seq} cannot be read: ${(error as Error).message}`;
      this.hand(lane, delivery);
      return;
    }
    lane.perMessage = members.length;
    const topic = topicOfSubject(msg.subject);
    if (delivered > 1) {
      void this.split(lane, reply, seq, delivered, members, msg.subject, topic).finally(() => this.later());
      return;
    }
    const batch = new HeldBatch(this, lane, reply, seq, delivered, topic, members.length, now);
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      let message: TransportMessage;
      let unreadable: string | undefined;
      try {
        message = decodeBlock(member.block, member.data, msg.subject);
      } catch (error) {
        if (!(error instanceof UnreadableHeaderError)) throw error;
        message = unreadableBlock(member.block, member.data);
        unreadable = error.message;
      }
      const delivery = new MemberDelivery(this, batch, member, i, message);
      delivery.unreadable = unreadable;
      this.hand(lane, delivery);
    }
  }

  /**
   * A redelivered batch message is split: each member is written alone to the queue's direct subject
   * with the deliveries so far (so a member that kills its consumer reaches `maxDeliveries` and the
   * dead letters alone, without its batch-mates), then the message is acked. A member this lane
   * dead-lettered before (its dead letter written under this message's id for it) is not written;
   * one it nacked is written under the id its nack used, so it is stored once.
   */
  private async split(
    lane: Lane,
    reply: string,
    seq: number,
    delivered: number,
    members: readonly Member[],
    subject: string,
    topic: string,
  ): Promise<void> {
    const host = this.host;
    const batch = new HeldBatch(this, lane, reply, seq, delivered - 1, topic, 0, Date.now());
    try {
      await Promise.all(
        members.map(async (member, index) => {
          let id = '';
          try {
            id = decodeBlock(member.block, member.data, subject).id;
          } catch {
            // unreadable: written alone all the same (the bus dead-letters it with the reason)
          }
          if (id !== '' && (await host.deadLettered(lane.info.queue, id, `dlq:${lane.info.name}:${seq}:${index}`))) return;
          await batch.writeAlone(member, index, delivered - 1, undefined, 0);
        }),
      );
      await host.confirmer.settle(reply, ACK).catch(goneIsDone);
    } catch (error) {
      host.logger.warn(
        { queue: lane.info.queue, streamSeq: seq, err: error },
        'nats: a redelivered batch message could not be split; JetStream delivers it again',
      );
    }
  }

  private hand(lane: Lane, delivery: AnyDelivery): void {
    lane.holding++;
    this.held.add(delivery);
    this.offer(delivery);
    if (lane.requested === 0) this.later();
  }

  override settled(delivery: AnyDelivery): void {
    this.held.delete(delivery);
    delivery.lane.holding--;
    super.settled(delivery);
    this.later();
  }

  /** The keep-alive round (one timer for all deliveries): extends every held delivery, and asks again for lanes whose request went silent. */
  private tick(): void {
    for (const delivery of this.held) delivery.working();
    const silent = Date.now() - HEARTBEAT_MS * 3;
    let lost = false;
    for (const lane of this.lanes) {
      if (lane.requested > 0 && lane.heardAt < silent) {
        lane.requested = 0; // the request is gone (server restart, cut connection): ask again
        lost = true;
      }
    }
    if (lost || this.lanes.some((l) => l.pausedUntil !== 0)) this.pump();
  }

  /** After a reconnect: pull requests of the old connection are gone. */
  reset(): void {
    for (const lane of this.lanes) lane.requested = 0;
    this.pump();
  }

  override async close(): Promise<void> {
    this.closeNow();
    await this.ready.catch(() => undefined);
    await this.leave?.();
  }

  protected detach(): void {
    clearInterval(this.keepAlive);
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    void this.leave?.();
  }

  protected giveBack(delivery: AnyDelivery): void {
    delivery.giveBack();
  }

  /** The connection is going away: also give back what was yielded and not settled. */
  override drop(): void {
    this.closeNow();
    for (const delivery of [...this.held]) delivery.giveBack();
    this.host.forget(this);
  }
}
