/**
 * An {@link EventStore} in memory, for tests and one-process demos. Same contract as the durable
 * stores (it runs the same conformance suite); nothing survives the process.
 *
 * @example
 * ```ts
 * const store = new MemoryEventStore();
 * await store.append('cart-1', [{ type: 'added', data: { sku: 'a' } }], { expectedVersion: 0 });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  ConcurrencyError,
  checkAppend,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type Snapshot,
} from './event-store.js';

/** The memory event store. */
export class MemoryEventStore implements EventStore {
  private readonly all: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly checkpoints = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: { readonly now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async append(stream: string, events: readonly NewEvent[], options: { readonly expectedVersion: ExpectedVersion }): Promise<AppendResult> {
    checkAppend(stream, events, options.expectedVersion);
    const list = this.streams.get(stream) ?? [];
    const current = list.length;
    if (options.expectedVersion !== 'any' && options.expectedVersion !== current)
      throw new ConcurrencyError(stream, options.expectedVersion, current);
    const at = this.now();
    for (const e of events) {
      const recorded: RecordedEvent = {
        id: e.id ?? randomUUID(),
        stream,
        version: list.length + 1,
        position: this.all.length + 1,
        type: e.type,
        data: clone(e.data),
        metadata: { ...e.metadata },
        at,
      };
      list.push(recorded);
      this.all.push(recorded);
    }
    this.streams.set(stream, list);
    return { version: list.length, position: list.at(-1)?.position ?? 0 };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = Math.max(1, options.fromVersion ?? 1);
    const list = (this.streams.get(stream) ?? []).slice(from - 1);
    return (options.limit === undefined ? list : list.slice(0, options.limit)).map(copy);
  }

  async streamVersion(stream: string): Promise<number> {
    return this.streams.get(stream)?.length ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = Math.max(0, options.after ?? 0);
    return this.all.slice(after, after + (options.limit ?? 500)).map(copy);
  }

  async saveSnapshot(stream: string, snapshot: Snapshot): Promise<void> {
    this.snapshots.set(stream, { version: snapshot.version, state: clone(snapshot.state) });
  }

  async loadSnapshot(stream: string): Promise<Snapshot | undefined> {
    const s = this.snapshots.get(stream);
    return s === undefined ? undefined : { version: s.version, state: clone(s.state) };
  }

  async loadCheckpoint(projection: string): Promise<number> {
    return this.checkpoints.get(projection) ?? 0;
  }

  async saveCheckpoint(projection: string, position: number): Promise<void> {
    this.checkpoints.set(projection, position);
  }

  async close(): Promise<void> {}
}

const clone = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
const copy = (e: RecordedEvent): RecordedEvent => ({ ...e, data: clone(e.data), metadata: { ...e.metadata } });
