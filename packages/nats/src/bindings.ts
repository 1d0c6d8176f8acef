/**
 * The binding table: which queues take which subjects. On NATS it is the list of durable consumers
 * of the messages stream, each with its filter subject, so there is nothing to keep in step: a
 * consumer created by `declare` is the binding. Each transport caches the list and reads it again
 * when a message would otherwise be refused as unroutable, so a queue declared by another process
 * is seen by the next publish after its `declare` returned.
 *
 * @example
 * ```ts
 * const bindings = new Bindings(jsm, names);
 * if (!bindings.routes(subject)) await bindings.refresh();
 * ```
 * @module
 */
import type { ConsumerInfo, JetStreamManager } from 'nats';
import { queueFromToken, subjectMatches, type Naming } from './naming.js';

/** One lane of a queue: a durable consumer of the messages stream. */
export interface LaneInfo {
  readonly name: string;
  readonly queue: string;
  readonly filter: string;
  /** The topic pattern (from the consumer's description), or undefined for the direct lane. */
  readonly pattern: string | undefined;
  /** Partition lanes take one message at a time (`max_ack_pending` 1). */
  readonly serial: boolean;
  readonly pending: number;
  readonly ackPending: number;
  /** Epoch ms the lane was created (when its queue was declared, for the first lanes). */
  readonly created: number;
}

/** The cached binding table of one connection. */
export class Bindings {
  private lanes = new Map<string, LaneInfo>();
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly jsm: () => JetStreamManager,
    private readonly names: Naming,
  ) {}

  /** Reads the table again from the server (concurrent calls share one read). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const next = new Map<string, LaneInfo>();
        const lister = this.jsm().consumers.list(this.names.messages);
        for await (const info of lister) {
          const lane = laneOf(info);
          if (lane !== undefined) next.set(lane.name, lane);
        }
        this.lanes = next;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Records lanes this connection just created. */
  add(lanes: readonly LaneInfo[]): void {
    for (const lane of lanes) this.lanes.set(lane.name, lane);
  }

  /** Forgets a queue's lanes. */
  remove(queue: string): void {
    for (const [name, lane] of this.lanes) if (lane.queue === queue) this.lanes.delete(name);
  }

  /** Forgets one lane (deleted). */
  removeLane(name: string): void {
    this.lanes.delete(name);
  }

  /** Whether some lane takes `subject`. */
  routes(subject: string): boolean {
    for (const lane of this.lanes.values()) if (subjectMatches(lane.filter, subject)) return true;
    return false;
  }

  /** Whether the queue has lanes (it is declared). */
  has(queue: string): boolean {
    for (const lane of this.lanes.values()) if (lane.queue === queue) return true;
    return false;
  }

  lanesOf(queue: string): LaneInfo[] {
    return [...this.lanes.values()].filter((l) => l.queue === queue);
  }

  all(): LaneInfo[] {
    return [...this.lanes.values()];
  }
}

/** A consumer of the messages stream as a lane, or undefined when it is not one of Missive's. */
export function laneOf(info: ConsumerInfo): LaneInfo | undefined {
  const name = info.name;
  const cut = name.indexOf('!');
  if (cut <= 0) return undefined;
  const filter = info.config.filter_subject ?? '';
  return {
    name,
    queue: queueFromToken(name.slice(0, cut)),
    filter,
    pattern: name[cut + 1] === 't' ? info.config.description : undefined,
    serial: info.config.max_ack_pending === 1,
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    created: Date.parse(info.created),
  };
}
