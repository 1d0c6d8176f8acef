/**
 * Asking the broker about queues by name. AMQP's only way is a passive declare, and a failed one
 * (the queue does not exist) closes its channel, so checks run on throwaway channels of their own,
 * never on a channel that does other work; and since opening a channel again after a failure takes
 * tens of milliseconds here, up to {@link CHECK_WORKERS} of them check in parallel.
 *
 * @example
 * ```ts
 * const counts = await checkQueues(connection, ['billing', 'billing.dead-letters']);
 * counts.get('billing')?.messageCount; // undefined: no such queue
 * ```
 * @module
 */
import type * as amqp from 'amqplib';

/** Channels that check at once. */
export const CHECK_WORKERS = 8;

/** The broker's counts (messages ready, consumers) of those of `names` that exist. */
export async function checkQueues(connection: amqp.ChannelModel, names: readonly string[]): Promise<Map<string, amqp.Replies.AssertQueue>> {
  const found = new Map<string, amqp.Replies.AssertQueue>();
  let next = 0;
  const worker = async (): Promise<void> => {
    let probe: amqp.Channel | undefined;
    for (let i = next++; i < names.length; i = next++) {
      const name = names[i]!;
      if (probe === undefined) {
        probe = await connection.createChannel();
        probe.on('error', () => undefined);
      }
      try {
        found.set(name, await probe.checkQueue(name));
      } catch {
        probe = undefined; // closed by the broker
      }
    }
    await probe?.close().catch(() => undefined);
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_WORKERS, names.length) }, worker));
  return found;
}

/** Deletes queues on a channel of its own; unknown names are ignored. */
export async function deleteQueues(connection: amqp.ChannelModel, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await channel.close().catch(() => undefined);
  }
}
