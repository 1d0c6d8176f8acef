/**
 * Dead letters on RabbitMQ live in `<queue>.dead-letters`, the failure in the `x-missive-failure`
 * header. RabbitMQ cannot read a queue without taking messages, so browsing gets messages without
 * acking them and lets them go back when its channel closes; replay publishes a message to its queue
 * (confirmed) before it acks the dead letter, so an interrupted replay loses nothing (it may leave a
 * message in both places, never in neither). One operation reads at most 10,000 dead letters, and
 * while it runs they are invisible to other readers.
 *
 * @example
 * ```ts
 * await transport.deadLetters.replay('payment', ['m-1'], { 'missive-replayed-at': new Date().toISOString() });
 * ```
 * @module
 */
import type * as amqp from 'amqplib';
import type { DeadLetter, DeadLetterFailure } from '@missive/core';
import { TransportHeader, type DeadLetterStore } from '@missive/core/transport';
import type { DeadLetterHost } from './consumer-host.js';
import { DEAD_LETTER_SUFFIX } from './topology.js';
import { transportMessage } from './wire.js';

const BROWSE_LIMIT = 10_000;

/** The store. */
export class RabbitDeadLetters implements DeadLetterStore {
  constructor(private readonly transport: DeadLetterHost) {}

  private async browse<T>(
    queue: string,
    limit: number,
    visit: (channel: amqp.Channel, messages: amqp.GetMessage[]) => Promise<T>,
  ): Promise<T> {
    const channel = await this.transport.newChannel();
    try {
      const messages: amqp.GetMessage[] = [];
      while (messages.length < Math.min(limit, BROWSE_LIMIT)) {
        const message = await channel.get(queue + DEAD_LETTER_SUFFIX, { noAck: false });
        if (message === false) break;
        messages.push(message);
      }
      return await visit(channel, messages);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  private letter(queue: string, message: amqp.Message): DeadLetter {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const raw = headers[TransportHeader.Failure];
    const failure = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : '{}') as DeadLetterFailure;
    return { queue, message: transportMessage(message), failure };
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const offset = options?.offset ?? 0;
    const limit = options?.limit ?? BROWSE_LIMIT;
    return this.browse(queue, offset + limit, async (_channel, messages) =>
      messages.slice(offset, offset + limit).map((m) => this.letter(queue, m)),
    );
  }

  async count(queue: string): Promise<number> {
    if (!(await this.transport.queueExists(queue + DEAD_LETTER_SUFFIX))) return 0;
    const channel = await this.transport.newChannel();
    try {
      return (await channel.checkQueue(queue + DEAD_LETTER_SUFFIX)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    return this.browse(queue, BROWSE_LIMIT, async (_channel, messages) => {
      const found = messages.find((m) => m.properties.messageId === id);
      return found === undefined ? undefined : this.letter(queue, found);
    });
  }

  async replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const wanted = new Set(ids);
    return this.browse(queue, BROWSE_LIMIT, async (channel, messages) => {
      let moved = 0;
      for (const message of messages) {
        if (!wanted.has(String(message.properties.messageId))) continue;
        await this.transport.confirmPublish('', queue, transportMessage(message), headers, true, queue);
        channel.ack(message);
        moved++;
      }
      return moved;
    });
  }

  async purge(queue: string, ids: readonly string[]): Promise<number> {
    const wanted = new Set(ids);
    return this.browse(queue, BROWSE_LIMIT, async (channel, messages) => {
      let purged = 0;
      for (const message of messages) {
        if (!wanted.has(String(message.properties.messageId))) continue;
        channel.ack(message);
        purged++;
      }
      return purged;
    });
  }
}
