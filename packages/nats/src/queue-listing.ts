/**
 * The queue listing (`queues()`, for the CLI and dashboards): the lanes of the messages stream
 * grouped by queue (`depth` the sum of their `num_pending`, `inFlight` of their `num_ack_pending`,
 * `topics` the patterns in their descriptions), the dead-letter count of each queue, and from the
 * consumer records (`presence.ts`) how many consumers each has and, when none, since when.
 * With batch messages on (`batch` option, see `batch.ts`), `depth` and `inFlight` count JetStream
 * messages: a batch message counts once, whatever it holds (JetStream's consumer info has only
 * message counts; counting members would mean reading every pending message).
 *
 * @example
 * ```ts
 * const queues = await listQueues(transport);
 * ```
 * @module
 */
import type { JetStreamManager } from 'nats';
import type { QueueInfo } from '@missive/core';
import { laneOf, type LaneInfo } from './bindings.js';
import type { NatsDeadLetters } from './nats-dead-letters.js';
import { queueFromToken, queueToken, type Naming } from './naming.js';
import type { Presence } from './presence.js';

/** What the listing reads. */
export interface ListingHost {
  jsm(): JetStreamManager;
  readonly names: Naming;
  readonly deadLetters: NatsDeadLetters;
  readonly presence: Presence;
}

interface Entry {
  depth: number;
  inFlight: number;
  topics: Set<string>;
  /** The earliest lane's creation: when the queue was declared. */
  created: number;
}

/** Every queue of the prefix. */
export async function listQueues(host: ListingHost): Promise<QueueInfo[]> {
  const lanes: LaneInfo[] = [];
  for await (const info of host.jsm().consumers.list(host.names.messages)) {
    const lane = laneOf(info);
    if (lane !== undefined) lanes.push(lane);
  }
  const [dead, seen] = await Promise.all([host.deadLetters.counts(), host.presence.read()]);
  const byQueue = new Map<string, Entry>();
  for (const lane of lanes) {
    const entry = byQueue.get(lane.queue) ?? { depth: 0, inFlight: 0, topics: new Set<string>(), created: lane.created };
    entry.depth += lane.pending;
    entry.inFlight += lane.ackPending;
    entry.created = Math.min(entry.created, lane.created);
    if (lane.pattern !== undefined) entry.topics.add(lane.pattern);
    byQueue.set(lane.queue, entry);
  }
  for (const token of dead.keys()) {
    const name = queueFromToken(token);
    if (!byQueue.has(name)) byQueue.set(name, { depth: 0, inFlight: 0, topics: new Set(), created: 0 });
  }
  return [...byQueue].map(([name, e]) => {
    const s = seen.get(name);
    const consumers = s?.consumers ?? 0;
    return {
      name,
      depth: e.depth,
      inFlight: e.inFlight,
      deadLetters: dead.get(queueToken(name)) ?? 0,
      topics: [...e.topics],
      consumers,
      idleSince: consumers > 0 ? undefined : Math.max(s?.lastAt ?? 0, e.created) || undefined,
    };
  });
}
