/**
 * Batch messages (opt-in: `?batch=N`): the unkeyed publishes of one event-loop turn to one subject
 * share one JetStream message, so nats-server stores, delivers, acks and drops one message for many
 * (on nats-server 2.9 that is most of what a message costs: see the README, "Batch messages").
 *
 * A batch message has the header block `NATS/1.0`, `Missive-Batch: <n>` (first, so a reader tells
 * it from a single message by its first header, in place) and `Nats-Msg-Id: batch:<hash>` (SHA-1
 * of its members' message ids, in order: a batch published again with the same members is stored
 * once within the duplicate window). Its payload is its members in order, each as
 *
 *     u32 BE header-block length | header block (UTF-8, as the member alone would be written) |
 *     u32 BE payload length      | payload
 *
 * so a member reads exactly as it would alone (`decodeBlock`), in either content mode. A batch
 * holds at most N members and {@link BATCH_MAX_BYTES} (less where the server's `max_payload` is
 * smaller); a bigger message goes alone. A turn's subject with one message sends it alone, byte for
 * byte as without batching, and so does a message whose headers go through nats.js's own encoder.
 *
 * Each member's publish resolves on the batch's PubAck, and a failed or missing one rejects every
 * member with the confirmer's error for it (the same typed errors as a single publish).
 *
 * @example
 * ```ts
 * const batcher = new PublishBatcher(confirmer, 64);
 * await batcher.add('missive._.t.shop.placed', wireOf(message, 'shop.placed'), message.id);
 * ```
 * @module
 */
import { createHash } from 'node:crypto';
import type { Msg, MsgHdrs } from 'nats';
import type { Confirmer } from './confirmer.js';
import { NatsHeader, WireHeaders, type Wire } from './message-codec.js';
import { MAX_BATCH } from './nats-options.js';

/** The most payload bytes of one batch message (its members' header blocks and payloads). */
export const BATCH_MAX_BYTES = 256 * 1024;

/** Room left under the server's `max_payload` for the batch's own header block and the length prefixes. */
const HEADROOM = 1024;

/** One member of a batch message, as read. */
export interface Member {
  /** Its header block (`NATS/1.0\r\n…\r\n\r\n`), or `''` when it had none. */
  readonly block: string;
  readonly data: Uint8Array;
}

/** A batch message whose payload is not a list of members. */
export class BatchFormatError extends Error {
  override readonly name = 'BatchFormatError';
}

const BATCH_MARK = Buffer.from(`NATS/1.0\r\n${NatsHeader.Batch}:`);

/** What nats.js keeps of a received message (its `MsgImpl`): the raw payload and where the header block ends. */
interface RawMsg {
  readonly _rdata?: unknown;
  readonly _msg?: { readonly hdr?: unknown };
}

/** Whether a received message is a batch message (its first header `Missive-Batch`), read in place. */
export function isBatch(msg: Msg): boolean {
  const raw = msg as unknown as RawMsg;
  const data = raw._rdata;
  const end = raw._msg?.hdr;
  if (!(data instanceof Uint8Array) || typeof end !== 'number') return (msg.headers?.get(NatsHeader.Batch) ?? '') !== '';
  if (end < BATCH_MARK.length) return false;
  for (let i = BATCH_MARK.length - 1; i >= 0; i--) if (data[i] !== BATCH_MARK[i]) return false;
  return true;
}

/**
 * The members of a batch message, in order; throws {@link BatchFormatError} when its payload is not
 * one, or does not hold the `count` members its `Missive-Batch` header says (2 to {@link MAX_BATCH}):
 * a batch message cut short at a member's end, or written by another writer, is not half read.
 */
export function readBatch(data: Uint8Array, count: string): Member[] {
  const said = /^\d{1,2}$/.test(count) ? Number(count) : NaN;
  if (!(said >= 2 && said <= MAX_BATCH))
    throw new BatchFormatError(`its ${NatsHeader.Batch} header says it holds ${count}, not 2 to ${MAX_BATCH} messages`);
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const members: Member[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (members.length === said) throw new BatchFormatError(`its ${NatsHeader.Batch} header says it holds ${said}, and more follow`);
    if (at + 4 > bytes.length) throw new BatchFormatError(`member ${members.length} is cut off at byte ${at}`);
    const blockLength = bytes.readUInt32BE(at);
    at += 4;
    if (at + blockLength + 4 > bytes.length) throw new BatchFormatError(`member ${members.length} is cut off at byte ${at}`);
    const block = bytes.toString('utf8', at, at + blockLength);
    if (blockLength > 0 && (!block.startsWith('NATS/1.0\r\n') || !block.endsWith('\r\n\r\n')))
      throw new BatchFormatError(`member ${members.length} has no NATS header block`);
    at += blockLength;
    const dataLength = bytes.readUInt32BE(at);
    at += 4;
    if (at + dataLength > bytes.length) throw new BatchFormatError(`member ${members.length} is cut off at byte ${at}`);
    members.push({ block, data: bytes.subarray(at, at + dataLength) });
    at += dataLength;
  }
  if (members.length !== said)
    throw new BatchFormatError(`its ${NatsHeader.Batch} header says it holds ${said}, and it holds ${members.length}`);
  return members;
}

/** What {@link copyBlock} changes in a member's header block. */
export interface CopyOf {
  /** The copy's `Nats-Msg-Id`. */
  readonly msgId: string;
  /** Deliveries the member had so far (`Missive-Deliveries`). */
  readonly deliveries: number;
  /** The topic of the batch's subject: the member's type when its block leaves it out (`''` for a queue subject). */
  readonly topic: string;
  /** New application headers (a nack's), replacing the member's. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Further header lines (`Name: value\r\n`), e.g. a scheduled copy's due time and target. */
  readonly extra?: string;
}

/**
 * The header block of a member written again alone (a nack's copy, or a split of a redelivered
 * batch): its own headers as written, under a new `Nats-Msg-Id`, with `Missive-Id` (its message id,
 * which the new `Nats-Msg-Id` no longer says), `Missive-Type` (the subject of the copy, a queue's,
 * no longer says the topic) and `Missive-Deliveries`. Other `Nats-*` headers (JetStream's publish
 * conditions, which Missive never writes in a member) are left out.
 */
export function copyBlock(block: string, copy: CopyOf): string {
  let msgId = '';
  let hasId = false;
  let hasType = false;
  let lines = '';
  let at = block === '' ? block.length : 10; // after the status line
  while (at < block.length) {
    let next = block.indexOf('\r\n', at);
    if (next === -1) next = block.length;
    if (next > at) {
      const line = block.slice(at, next);
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      if (name === NatsHeader.MsgId) msgId = line.slice(colon + 1).trim();
      else if (name === NatsHeader.Deliveries || (name === NatsHeader.Headers && copy.headers !== undefined)) {
        // replaced below
      } else if (name.slice(0, 5).toLowerCase() === 'nats-') {
        // Another writer's instruction to JetStream (`Nats-Expected-Stream`, `Nats-Expected-Last-Sequence`,
        // `Nats-Rollup`, …): it was the member's own publish condition, not the copy's; kept, it would have
        // the copy refused (a nack failing, a split repeated at every redelivery) or roll the stream up.
      } else {
        if (name === NatsHeader.Id) hasId = true;
        else if (name === NatsHeader.Type || name.toLowerCase() === 'ce-type') hasType = true;
        lines += `${line}\r\n`;
      }
    }
    at = next + 2;
  }
  let out = `NATS/1.0\r\n${NatsHeader.MsgId}: ${copy.msgId}\r\n${NatsHeader.Deliveries}: ${copy.deliveries}\r\n`;
  if (!hasId && msgId !== '') out += `${NatsHeader.Id}: ${msgId}\r\n`;
  if (!hasType && copy.topic !== '') out += `${NatsHeader.Type}: ${copy.topic}\r\n`;
  if (copy.headers !== undefined && Object.keys(copy.headers).length > 0)
    out += `${NatsHeader.Headers}: ${JSON.stringify(copy.headers)}\r\n`;
  return `${out}${lines}${copy.extra ?? ''}\r\n`;
}

interface Pending {
  readonly block: string;
  readonly wire: Wire;
  readonly id: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The publish batches of one connection: the turn's batchable publishes, by subject, sent at the turn's end. */
export class PublishBatcher {
  private bySubject = new Map<string, Pending[]>();
  private queued = false;

  constructor(
    private readonly confirmer: Confirmer,
    private readonly most: number,
  ) {}

  /**
   * Publishes `wire` (message id `id`) on `subject` in this turn's batch for the subject; resolves
   * on the PubAck of the JetStream message that holds it.
   */
  add(subject: string, wire: Wire, id: string): Promise<void> {
    const headers = wire.headers as unknown;
    if (!(headers instanceof WireHeaders)) return this.confirmer.publish(subject, wire.data, wire.headers);
    return new Promise<void>((resolve, reject) => {
      let list = this.bySubject.get(subject);
      if (list === undefined) {
        list = [];
        this.bySubject.set(subject, list);
      }
      list.push({ block: headers.block, wire, id, resolve, reject });
      if (!this.queued) {
        this.queued = true;
        this.confirmer.beforeTurnEnd(this.flush);
      }
    });
  }

  /** Sends the turn's batches (the confirmer calls it as its turn ends, before it writes). */
  private readonly flush = (): void => {
    this.queued = false;
    const bySubject = this.bySubject;
    this.bySubject = new Map();
    const maxBytes = Math.min(BATCH_MAX_BYTES, this.confirmer.maxPayload - HEADROOM);
    for (const [subject, list] of bySubject) {
      let start = 0;
      while (start < list.length) {
        let end = start;
        let bytes = 0;
        while (end < list.length && end - start < this.most) {
          const p = list[end]!;
          const size = 8 + Buffer.byteLength(p.block) + p.wire.data.length;
          if (bytes + size > maxBytes) break;
          bytes += size;
          end++;
        }
        if (end - start <= 1) {
          const p = list[start]!;
          this.confirmer.publish(subject, p.wire.data, p.wire.headers).then(p.resolve, p.reject);
          start++;
        } else {
          this.send(subject, list.slice(start, end), bytes);
          start = end;
        }
      }
    }
  };

  private send(subject: string, members: readonly Pending[], bytes: number): void {
    const body = Buffer.allocUnsafe(bytes);
    const hash = createHash('sha1');
    let at = 0;
    for (const p of members) {
      const blockAt = at + 4;
      const blockLength = body.write(p.block, blockAt, 'utf8');
      body.writeUInt32BE(blockLength, at);
      at = blockAt + blockLength;
      body.writeUInt32BE(p.wire.data.length, at);
      at += 4;
      body.set(p.wire.data, at);
      at += p.wire.data.length;
      hash.update(p.id).update('\n');
    }
    const headers = new WireHeaders(
      `NATS/1.0\r\n${NatsHeader.Batch}: ${members.length}\r\n${NatsHeader.MsgId}: batch:${hash.digest('base64url')}\r\n\r\n`,
    ) as unknown as MsgHdrs;
    this.confirmer.publish(subject, body.subarray(0, at), headers).then(
      () => {
        for (const p of members) p.resolve();
      },
      (error: Error) => {
        for (const p of members) p.reject(error);
      },
    );
  }
}
