/**
 * Moving a command type from one queue to another (`takeOver`) without losing or doubling a
 * message. JetStream 2.9 cannot change a consumer's filter, and deleting the previous owner's lane
 * of the type would drop what it holds (interest retention keeps a message only for the consumers
 * that still want it). So, per lane of the previous owner that takes the type:
 *
 * 1. a **holder** is created: a durable consumer with the lane's filter, starting at the lane's
 *    ack floor + 1, so it keeps every message the lane had not acked, and every message published
 *    from now on;
 * 2. the lane is deleted: the previous owner receives no further message of the type;
 * 3. once the new owner's queue is declared (its lanes exist, each starting after a known stream
 *    sequence), the holder is drained: a message published before the new owner's lane existed is
 *    published again to the previous owner's own queue (its direct subject, same partition slot,
 *    under a `Nats-Msg-Id` of holder and sequence, so a repeat stores one copy), where it waits for
 *    the operator to drain or delete it; a later one is skipped (the new owner's lane has it). Then
 *    the holder is deleted. A copy names its type in `Missive-Type` (a message published to the
 *    topic named after its type has none: that subject said it, the queue's does not), and a batch
 *    message is copied as its members, each alone with its type (under `<holder>:<seq>:<index>`).
 *
 * A message the previous owner acked out of order above its ack floor can be copied once more
 * (at least once). A holder left by a process that died between 2 and 3 keeps its messages (and
 * shows as a consumer named `moving_…` of the messages stream) until deleted by hand.
 *
 * @example
 * ```ts
 * await handovers.begin('payment', 'shop.charge-card', 'billing');
 * // … declare 'billing' …
 * await handovers.finish('billing', starts);
 * ```
 * @module
 */
import { AckPolicy, DeliverPolicy, headers, nanos, type JetStreamClient, type JetStreamManager, type JsMsg, type MsgHdrs } from 'nats';
import { TransportError, type Logger } from '@missive/core';
import { apiCode, ApiError } from './api-errors.js';
import { copyBlock, readBatch } from './batch.js';
import type { Bindings } from './bindings.js';
import type { Confirmer } from './confirmer.js';
import { NatsHeader, WireHeaders } from './message-codec.js';
import { shortHash, subjectMatches, topicOfSubject, type Naming } from './naming.js';

/** What handovers need of the transport. */
export interface HandoverHost {
  jsm(): JetStreamManager;
  js(): JetStreamClient;
  readonly names: Naming;
  readonly bindings: Bindings;
  readonly confirmer: Confirmer;
  readonly logger: Logger;
}

interface Holder {
  readonly name: string;
  /** The queue that lost the type. */
  readonly from: string;
  readonly type: string;
}

/** Where each lane of the new owner starts: the stream sequence after which it has every message of its filter. */
export type LaneStarts = readonly { readonly filter: string; readonly after: number }[];

const FETCH_BATCH = 256;

/** The handovers of one transport. */
export class Handovers {
  /** Holders waiting for the new owner's queue to be declared, by that queue. */
  private readonly waiting = new Map<string, Holder[]>();

  constructor(private readonly host: HandoverHost) {}

  /** Steps 1 and 2: `from` receives no further message of `type`; what it held is kept by holders. */
  async begin(from: string, type: string, to: string): Promise<void> {
    const { names, bindings } = this.host;
    const jsm = this.host.jsm();
    await bindings.refresh();
    const lanes = bindings.lanesOf(from).filter((lane) => lane.pattern === type);
    const holders: Holder[] = [];
    for (const lane of lanes) {
      let floor: number;
      try {
        floor = (await jsm.consumers.info(names.messages, lane.name)).ack_floor.stream_seq;
      } catch (error) {
        if (apiCode(error) === ApiError.ConsumerNotFound) continue;
        throw error;
      }
      const name = `moving_${shortHash(`${lane.name}:${Date.now()}`)}`;
      try {
        await jsm.consumers.add(names.messages, {
          durable_name: name,
          description: `${type}: from ${from} to ${to}`,
          filter_subject: lane.filter,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: floor + 1,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(60_000),
          max_ack_pending: -1,
        });
        await jsm.consumers.delete(names.messages, lane.name);
      } catch (error) {
        throw new TransportError(
          `endpoint ${to} took ${type} over, but the lane of ${from} for it could not be moved aside: ${(error as Error).message}`,
          { cause: error },
        );
      }
      bindings.removeLane(lane.name);
      holders.push({ name, from, type });
    }
    if (holders.length > 0) this.waiting.set(to, [...(this.waiting.get(to) ?? []), ...holders]);
  }

  /** Step 3, once `queue` (the new owner) is declared: drains and deletes the holders waiting for it. */
  async finish(queue: string, starts: LaneStarts): Promise<void> {
    const holders = this.waiting.get(queue);
    if (holders === undefined) return;
    this.waiting.delete(queue);
    for (const holder of holders) await this.drain(holder, starts);
  }

  /** At close: holders whose new owner was not declared here give everything back to the previous owner. */
  async finishAll(): Promise<void> {
    for (const queue of [...this.waiting.keys()])
      await this.finish(queue, []).catch((error: unknown) =>
        this.host.logger.warn({ queue, err: error }, 'nats: a take-over could not be finished'),
      );
  }

  private async drain(holder: Holder, starts: LaneStarts): Promise<void> {
    const { names } = this.host;
    let copied = 0;
    for (;;) {
      const batch: JsMsg[] = [];
      for await (const msg of this.host.js().fetch(names.messages, holder.name, { batch: FETCH_BATCH, no_wait: true })) batch.push(msg);
      if (batch.length === 0) break;
      for (const msg of batch) {
        // The new owner's lane for this subject, if it starts before the message, has it already.
        const lane = starts.find((s) => subjectMatches(s.filter, msg.subject));
        if (lane === undefined || msg.seq <= lane.after) {
          const slot = msg.subject.slice(names.prefix.length + 1).split('.', 1)[0] ?? '_';
          copied += await this.copy(msg, names.queueSubject(holder.from, slot), `moved:${holder.name}:${msg.seq}`);
        }
        msg.ack();
      }
      if (batch.length < FETCH_BATCH) break;
    }
    try {
      await this.host.jsm().consumers.delete(names.messages, holder.name);
    } catch (error) {
      if (apiCode(error) !== ApiError.ConsumerNotFound) throw error;
    }
    if (copied > 0)
      this.host.logger.info(
        { queue: holder.from, type: holder.type, copied },
        "nats: messages of a command type taken over stay in the previous owner's queue",
      );
  }

  /**
   * Writes `msg` to `subject` under `dedupId`; a batch message as its members, each alone (under
   * `<dedupId>:<index>`). Returns how many messages were written.
   */
  private async copy(msg: JsMsg, subject: string, dedupId: string): Promise<number> {
    const topic = topicOfSubject(msg.subject);
    if ((msg.headers?.get(NatsHeader.Batch) ?? '') === '') {
      await this.host.confirmer.publish(subject, msg.data, moved(msg.headers, dedupId, topic));
      return 1;
    }
    let members;
    try {
      members = readBatch(msg.data, msg.headers?.get(NatsHeader.Batch) ?? '');
    } catch {
      // Not a list of members: copied as it is, for its new owner to dead-letter with the reason.
      await this.host.confirmer.publish(subject, msg.data, moved(msg.headers, dedupId, topic));
      return 1;
    }
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      const block = copyBlock(member.block, { msgId: `${dedupId}:${i}`, deliveries: 0, topic });
      await this.host.confirmer.publish(subject, member.data, new WireHeaders(block) as never);
    }
    return members.length;
  }
}

/**
 * The headers of a copied message: its own `Nats-Msg-Id`, the message id in `Missive-Id`, and its
 * type in `Missive-Type` when it had none (`topic`: the topic its subject named, `''` for none).
 */
function moved(original: MsgHdrs | undefined, dedupId: string, topic: string): MsgHdrs | undefined {
  if (original === undefined && topic === '') return undefined;
  const h = original ?? headers();
  const id = h.get(NatsHeader.Id) || h.get(NatsHeader.MsgId);
  h.set(NatsHeader.MsgId, dedupId);
  if (id !== '') h.set(NatsHeader.Id, id);
  if (topic !== '' && h.get(NatsHeader.Type) === '' && h.get('ce-type') === '') h.set(NatsHeader.Type, topic);
  return h;
}
