/**
 * Dead letters on NATS: one stream (`<P>_DLQ`) for every queue, subject
 * `<p>.dlq.<queue>.<id>`: listing walks a queue's subjects in stream order, `get` reads the last
 * message of one id's subject, `purge` purges that subject, and a replay publishes the message back
 * to its queue (under a new `Nats-Msg-Id`, so the duplicate window does not swallow it) before it
 * deletes the dead letter: an interrupted replay leaves the message dead-lettered, back in the
 * queue, or, for a moment, both — never neither.
 *
 * @example
 * ```ts
 * const letters = await transport.deadLetters.list('billing', { limit: 10 });
 * ```
 * @module
 */
import type { JetStreamManager, StoredMsg } from 'nats';
import { UnroutableError, type DeadLetter, type DeadLetterFailure, type TransportMessage } from '@missive/core';
import type { DeadLetterStore } from '@missive/core/transport';
import { decodeMessage, encodeHeaders, NatsHeader } from './message-codec.js';
import { queueToken, slotOf, type Naming } from './naming.js';
import type { Confirmer } from './confirmer.js';

/** What the store needs from its transport. */
export interface DeadLetterHost {
  jsm(): JetStreamManager;
  readonly confirmer: Confirmer;
  readonly names: Naming;
  /** Whether `queue` is declared (has lanes), reading the binding table again if needed. */
  declared(queue: string): Promise<boolean>;
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: string; api_error?: { err_code?: number } };
  return e.api_error?.err_code === 10037 || e.code === '404';
}

function toLetter(queue: string, stored: StoredMsg): DeadLetter {
  const message = decodeMessage(stored.data, stored.header);
  const failure = JSON.parse(stored.header.get(NatsHeader.Failure) || '{}') as DeadLetterFailure;
  return { queue, message, failure };
}

/** The dead-letter store of a NATS transport. */
export class NatsDeadLetters implements DeadLetterStore {
  constructor(private readonly host: DeadLetterHost) {}

  /** Stores a dead letter; `dedupId` makes a repeated attempt (after a crash) store one copy. */
  async store(queue: string, message: TransportMessage, failure: DeadLetterFailure, dedupId: string): Promise<void> {
    const h = encodeHeaders(message, dedupId);
    h.set(NatsHeader.Failure, JSON.stringify(failure));
    await this.host.confirmer.publish(this.host.names.deadLetterSubject(queue, message.id), message.body, h);
  }

  private async walk(queue: string, visit: (stored: StoredMsg) => boolean): Promise<void> {
    const jsm = this.host.jsm();
    const filter = this.host.names.deadLetterFilter(queue);
    let seq = 1;
    for (;;) {
      let stored: StoredMsg;
      try {
        stored = await jsm.streams.getMessage(this.host.names.deadLetters, { seq, next_by_subj: filter } as { seq: number });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      if (!visit(stored)) return;
      seq = stored.seq + 1;
    }
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const offset = options?.offset ?? 0;
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    const letters: DeadLetter[] = [];
    let index = 0;
    await this.walk(queue, (stored) => {
      if (index++ >= offset) letters.push(toLetter(queue, stored));
      return letters.length < limit;
    });
    return letters;
  }

  async count(queue: string): Promise<number> {
    const info = await this.host
      .jsm()
      .streams.info(this.host.names.deadLetters, { subjects_filter: this.host.names.deadLetterFilter(queue) });
    let n = 0;
    for (const count of Object.values(info.state.subjects ?? {})) n += count;
    return n;
  }

  /** Dead-letter counts of every queue, by queue token. */
  async counts(): Promise<Map<string, number>> {
    const prefix = `${this.host.names.prefix}.x.dlq.`;
    const info = await this.host.jsm().streams.info(this.host.names.deadLetters, { subjects_filter: `${prefix}>` });
    const counts = new Map<string, number>();
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const token = subject.slice(prefix.length, subject.lastIndexOf('.'));
      counts.set(token, (counts.get(token) ?? 0) + count);
    }
    return counts;
  }

  private async last(queue: string, id: string): Promise<StoredMsg | undefined> {
    try {
      return await this.host
        .jsm()
        .streams.getMessage(this.host.names.deadLetters, { last_by_subj: this.host.names.deadLetterSubject(queue, id) });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The `Nats-Msg-Id` of the dead letter of message `id` in `queue`, if there is one (what wrote it). */
  async dedupIdOf(queue: string, id: string): Promise<string | undefined> {
    return (await this.last(queue, id))?.header.get(NatsHeader.MsgId);
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    const stored = await this.last(queue, id);
    return stored === undefined ? undefined : toLetter(queue, stored);
  }

  async replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    if (!(await this.host.declared(queue))) throw new UnroutableError(queue, 'the queue is not declared');
    let moved = 0;
    for (const id of ids) {
      const stored = await this.last(queue, id);
      if (stored === undefined) continue;
      const message = decodeMessage(stored.data, stored.header);
      await this.host.confirmer.publish(
        this.host.names.queueSubject(queue, slotOf(message.partitionKey)),
        message.body,
        encodeHeaders(message, `replay:${queueToken(queue)}:${stored.seq}`, headers),
      );
      await this.purgeSubject(this.host.names.deadLetterSubject(queue, id));
      moved++;
    }
    return moved;
  }

  async purge(queue: string, ids: readonly string[]): Promise<number> {
    let purged = 0;
    for (const id of ids) purged += await this.purgeSubject(this.host.names.deadLetterSubject(queue, id));
    return purged;
  }

  /** Deletes every dead letter of a queue. */
  async purgeQueue(queue: string): Promise<void> {
    await this.host.jsm().streams.purge(this.host.names.deadLetters, { filter: this.host.names.deadLetterFilter(queue) });
  }

  private async purgeSubject(subject: string): Promise<number> {
    const result = await this.host.jsm().streams.purge(this.host.names.deadLetters, { filter: subject });
    return result.purged;
  }
}
