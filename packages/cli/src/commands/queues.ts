/**
 * `missive queues`: every queue with its depth, in-flight and dead-letter counts, consumers, the
 * command types it owns and its bound topics; a queue that holds messages and has had no consumer
 * for `--stale-after` seconds (default 300) is flagged: a leftover endpoint, or one that is down.
 *
 * @example
 * ```sh
 * missive queues --url sqlite://.missive/bus.db --json
 * missive queues delete refunds-v1 --yes   # a leftover endpoint: its messages, dead letters and command claims go
 * ```
 * @module
 */
import type { CommandOwner, QueueInfo, Transport } from '@missive/core';
import { requireQueue } from '../connect.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';

/** Default of `--stale-after`, seconds. */
export const STALE_AFTER_S = 300;

/** Why a queue is flagged, or undefined. */
export function staleness(queue: QueueInfo, now: number, staleAfterMs: number): string | undefined {
  if (queue.depth === 0 || queue.consumers === undefined || queue.consumers > 0) return undefined;
  if (queue.idleSince === undefined) return `${queue.depth} waiting and no consumer (the transport cannot say since when)`;
  const idleMs = now - queue.idleSince;
  return idleMs >= staleAfterMs ? `${queue.depth} waiting and no consumer for ${duration(idleMs)}` : undefined;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The command owners of the transport, or undefined where it keeps none. */
export async function ownersOf(transport: Transport): Promise<CommandOwner[] | undefined> {
  return transport.commandOwners?.owners();
}

export async function queuesCommand(transport: Transport, options: { readonly staleAfterS: number }, out: Output): Promise<void> {
  const queues = await transport.queues();
  const owners = (await ownersOf(transport)) ?? [];
  const now = Date.now();
  const rows = queues.map((q) => {
    const warning = staleness(q, now, options.staleAfterS * 1000);
    return {
      name: q.name,
      depth: q.depth,
      inFlight: q.inFlight,
      deadLetters: q.deadLetters,
      consumers: q.consumers,
      idleSince: q.idleSince === undefined ? undefined : new Date(q.idleSince).toISOString(),
      owns: owners.filter((o) => o.queue === q.name).map((o) => o.type),
      topics: q.topics,
      stale: warning !== undefined,
      warning,
    };
  });
  out.table(rows, ['name', 'depth', 'inFlight', 'deadLetters', 'consumers', 'owns', 'topics', 'warning']);
}

/**
 * `missive queues delete <name> --yes`: deletes a queue with its messages, dead letters and the
 * command types it owns (a leftover endpoint). Refused without `--yes`, or for an unknown queue.
 */
export async function deleteQueueCommand(
  transport: Transport,
  args: { readonly name: string | undefined; readonly yes: boolean },
  out: Output,
): Promise<void> {
  if (args.name === undefined) throw new UsageError('queues delete needs a queue: missive queues delete <name> --yes');
  if (!args.yes) throw new UsageError(`queues delete ${args.name} deletes its messages, dead letters and command claims: add --yes`);
  await requireQueue(transport, args.name);
  const released = ((await ownersOf(transport)) ?? []).filter((o) => o.queue === args.name).map((o) => o.type);
  await transport.deleteQueue(args.name);
  if (out.json) out.document({ deleted: args.name, released });
  else out.line(`deleted queue ${args.name}${released.length > 0 ? `; released ${released.join(', ')}` : ''}`);
}
