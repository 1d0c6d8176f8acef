/**
 * The dead-letter store of a memory broker: each queue keeps its dead letters in memory.
 * @module
 */
import { withHeaders } from '../in-process-message.js';
import type { DeadLetter, DeadLetterStore } from '../transport.js';
import type { BrokerOps } from './memory-queue.js';

/** The dead letters of a memory broker's queues. */
export class MemoryDeadLetters implements DeadLetterStore {
  constructor(private readonly broker: BrokerOps) {}

  private list_(queue: string): DeadLetter[] {
    return this.broker.queueNamed(queue)?.deadLetters ?? [];
  }

  async list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]> {
    const offset = options?.offset ?? 0;
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    return this.list_(queue).slice(offset, offset + limit);
  }

  async count(queue: string): Promise<number> {
    return this.list_(queue).length;
  }

  async get(queue: string, id: string): Promise<DeadLetter | undefined> {
    return this.list_(queue).find((d) => d.message.id === id);
  }

  async replay(queueName: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number> {
    const queue = this.broker.queueNamed(queueName);
    if (queue === undefined) return 0;
    const wanted = new Set(ids);
    let moved = 0;
    for (let i = 0; i < queue.deadLetters.length;) {
      const dead = queue.deadLetters[i]!;
      if (wanted.has(dead.message.id)) {
        queue.deadLetters.splice(i, 1);
        this.broker.enqueue(queue, withHeaders(dead.message, { ...headers }));
        moved++;
      } else {
        i++;
      }
    }
    return moved;
  }

  async purge(queueName: string, ids: readonly string[]): Promise<number> {
    const queue = this.broker.queueNamed(queueName);
    if (queue === undefined) return 0;
    const wanted = new Set(ids);
    const before = queue.deadLetters.length;
    const kept = queue.deadLetters.filter((d) => !wanted.has(d.message.id));
    queue.deadLetters.splice(0, queue.deadLetters.length, ...kept);
    return before - kept.length;
  }
}
