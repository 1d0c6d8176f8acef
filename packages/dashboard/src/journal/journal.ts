/**
 * The message journal: an opt-in audit of what each endpoint of a bus handled, like an audit
 * queue. It observes core's settled deliveries (`bus.observeHandled`: the `handled` event's fields
 * as arguments, no event object) and packs each as it arrives into the flat typed arrays of the
 * current batch (`journal-pack.ts`; nothing of the message is kept). Every `flushMs`,
 * or as soon as a batch holds `batchSize` rows, it hands the batches to the store: the SQLite
 * store's worker thread builds the rows and inserts them, so the bus thread never builds a row
 * object or clones one. It prunes by age and size every minute, and flushes on stop.
 *
 * A store that fails does not fail a handler: the batch is kept and retried at the next flush.
 * Rows waiting for a store that fails or falls behind are kept up to `maxBuffered`, past which the
 * oldest are dropped and counted (`journal.dropped`), with a warning in the bus's log.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'payment', transport: 'sqlite://.missive/bus.db' });
 * journal(bus, { store: 'sqlite://.missive/journal.db', payloads: { redact: ['cardNumber'] }, retention: { maxAgeMs: 7 * 86_400_000 } });
 * ```
 * @module
 */
import {
  ConfigurationError,
  consoleLogger,
  systemClock,
  type Bus,
  type BusComponent,
  type Clock,
  type HandledObserver,
  type Logger,
} from '@missive/core';
import { sliceBatch, unpackBatch, type PackedBatch } from './journal-batch.js';
import { defaultKeyFields, type EntryOptions } from './journal-entry.js';
import { BatchPacker } from './journal-pack.js';
import type { JournalStore } from './journal-store.js';
import { openJournalStore } from './open-journal-store.js';

/** Options of {@link journal}. */
export interface JournalOptions {
  /** A store, or its URL (`sqlite://path`, `postgres://…`). */
  readonly store: JournalStore | string;
  /** Keep payloads, with these field names (at any depth) redacted. Default: no payloads. */
  readonly payloads?: { readonly redact?: readonly string[] } | boolean;
  /** Payload fields whose values are business keys (searchable in the dashboard). Default: `id` and every field ending in `Id`. */
  readonly keys?: readonly string[] | ((field: string) => boolean);
  /** Delete rows older than `maxAgeMs`, and all but the newest `maxRows`. Default: 7 days, 1,000,000 rows. */
  readonly retention?: { readonly maxAgeMs?: number; readonly maxRows?: number };
  /** Write at least this often, ms. Default 250. */
  readonly flushMs?: number;
  /** Write as soon as this many rows wait. Default 1000. */
  readonly batchSize?: number;
  /**
   * Rows kept waiting for the store, while it fails or when it falls behind the bus (its writes
   * slower than the handlers); past it the oldest are dropped, counted in `dropped` and warned
   * about once until the store catches up. Default 100,000.
   */
  readonly maxBuffered?: number;
  /** How often retention runs, ms. Default 60 s. */
  readonly pruneEveryMs?: number;
  /** Where store failures are reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
  /**
   * The clock of the rows' times, read once per row. Default: the system clock, read once per
   * batch: a row's time is the event's `settledAt` (monotonic) plus the batch's offset to it.
   */
  readonly clock?: Clock;
}

/** A running journal. */
export interface Journal {
  /** Writes what is buffered now. */
  flush(): Promise<void>;
  /** Rows written so far, and rows dropped because the store failed or fell behind by more than `maxBuffered` rows. */
  readonly written: number;
  readonly dropped: number;
  /**
   * Batches the store has written so far (one store call each). `written / batches` is the rows a
   * hand-over carries: the journal's cost on the bus thread grows with the number of hand-overs, so
   * a figure far below `batchSize` on a busy bus says rows leave in small batches.
   */
  readonly batches: number;
  /** The store (open once the bus started). */
  readonly store: JournalStore | undefined;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`journal ${name} must be a positive number, got ${String(value)}`);
  return n;
}

/**
 * Journals what `bus` handles, from its start to its stop. Call before `bus.start()`.
 */
export function journal(bus: Bus, options: JournalOptions): Journal {
  if (options?.store === undefined)
    throw new ConfigurationError('journal needs a store: a JournalStore or a URL (sqlite://path, postgres://…)');
  const flushMs = positive(options.flushMs, 250, 'flushMs');
  const batchSize = positive(options.batchSize, 1000, 'batchSize');
  const maxBuffered = positive(options.maxBuffered, 100_000, 'maxBuffered');
  const pruneEveryMs = positive(options.pruneEveryMs, 60_000, 'pruneEveryMs');
  const maxAgeMs = positive(options.retention?.maxAgeMs, 7 * 86_400_000, 'retention.maxAgeMs');
  const maxRows = positive(options.retention?.maxRows, 1_000_000, 'retention.maxRows');
  const keys = options.keys;
  const entryOptions: Omit<EntryOptions, 'at'> = {
    instance: bus.instanceId,
    payload:
      options.payloads === undefined || options.payloads === false
        ? undefined
        : { redact: options.payloads === true ? [] : (options.payloads.redact ?? []) },
    keys: keys === undefined ? defaultKeyFields : typeof keys === 'function' ? keys : (field) => keys.includes(field),
  };
  const logger = options.logger ?? consoleLogger('warn');
  const clock = options.clock ?? systemClock;
  const perRowClock = options.clock;
  /** Epoch ms minus `performance.now()`, read when a batch starts: a row's time is its `settledAt` plus this. */
  let offset = 0;
  // The handler's path packs each event into the current batch here.
  const packer = new BatchPacker(batchSize, entryOptions);
  // Full batches, and batches not yet written (a failing store's rows wait here), oldest first.
  const packed: PackedBatch[] = [];
  let store: JournalStore | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let soon = false;
  let written = 0;
  let batches = 0;
  let dropped = 0;
  let failing = false;
  /** Rows were dropped since the store last caught up. */
  let dropping = false;

  /** Queues the batch being packed, if it has rows. */
  const packAll = (): void => {
    if (packer.count > 0) packed.push(packer.take());
  };
  /** Drops the oldest packed rows past `maxBuffered`, counting them; warns once until the store catches up. */
  const bound = (): void => {
    let excess = packed.reduce((n, batch) => n + batch.count, 0) - maxBuffered;
    if (excess > 0 && !dropping) {
      dropping = true;
      logger.warn({ maxBuffered }, 'journal store behind or failing: the oldest waiting rows are dropped (journal.dropped counts them)');
    }
    while (excess > 0 && packed.length > 0) {
      const oldest = packed[0]!;
      const cut = Math.min(excess, oldest.count);
      dropped += cut;
      excess -= cut;
      if (cut === oldest.count) packed.shift();
      else packed[0] = sliceBatch(oldest, cut);
    }
  };
  /**
   * Writes the queued batches, oldest first. Only whole batches and what a flush queued: the rows
   * packed while a write is out wait for the next flush or for their batch to fill. (Taking them at
   * once made a busy bus hand the worker a batch of a few rows per round trip, ~15 on the SQLite
   * transport, and the bus thread paid a hand-over for each.)
   */
  const write = async (): Promise<void> => {
    while (store !== undefined && packed.length > 0) {
      // Out of the queue while it is written: `bound` drops only rows that wait.
      const batch = packed.shift()!;
      try {
        await (store.appendPacked !== undefined ? store.appendPacked(batch) : store.append(unpackBatch(batch)));
        written += batch.count;
        batches++;
        packer.recycle(batch.numbers);
        if (packed.length === 0) dropping = false;
        if (failing) logger.info({ rows: batch.count }, 'journal store writes again');
        failing = false;
      } catch (error) {
        packed.unshift(batch);
        packAll();
        bound();
        const buffered = packed.reduce((n, b) => n + b.count, 0);
        if (!failing) logger.warn({ err: error, buffered }, 'journal store write failed; rows kept for the next flush');
        failing = true;
        return;
      }
    }
  };
  /** Starts writing what is queued, unless a write is out (it goes on while batches are queued). */
  const drain = (): Promise<void> => {
    soon = false;
    writing ??= write().finally(() => (writing = undefined));
    return writing;
  };
  /** Queues the rows packed so far and writes; resolves once every row packed before the call is written (or kept after a failure). */
  const flush = (): Promise<void> => {
    packAll();
    if (writing !== undefined) return writing.then(() => (packer.count > 0 || packed.length > 0 ? flush() : undefined));
    return drain();
  };
  // Core calls it with the delivery's fields as arguments: no event object per message.
  const observe: HandledObserver = (
    service,
    endpoint,
    envelope,
    messageId,
    type,
    attempt,
    outcome,
    durationMs,
    settledAt,
    error,
    reason,
    replayed,
  ) => {
    let at: number;
    if (perRowClock !== undefined) at = perRowClock.now();
    else {
      if (packer.count === 0) offset = Date.now() - performance.now();
      at = Math.round(settledAt + offset);
    }
    packer.pack(service, endpoint, envelope, messageId, type, attempt, outcome, durationMs, at, error, reason, replayed);
    if (packer.full) {
      packed.push(packer.take());
      // Rows waiting for a store that fails or falls behind are bounded here (and at a failed write).
      bound();
      if (!soon) {
        soon = true;
        setImmediate(() => void drain());
      }
    }
  };
  const prune = async (): Promise<void> => {
    try {
      await store?.prune({ before: clock.now() - maxAgeMs, keep: maxRows });
    } catch (error) {
      logger.warn({ err: error }, 'journal retention failed');
    }
  };

  const component: BusComponent = {
    async start() {
      store = typeof options.store === 'string' ? await openJournalStore(options.store) : options.store;
      timer = setInterval(() => void flush(), flushMs);
      timer.unref();
      pruneTimer = setInterval(() => void prune(), pruneEveryMs);
      pruneTimer.unref();
      await prune();
    },
    async stop() {
      clearInterval(timer);
      clearInterval(pruneTimer);
      unsubscribe();
      await flush();
      if (typeof options.store === 'string') await store?.close();
    },
  };
  // Listening from now: deliveries settled between the endpoints' start and the component's are buffered too.
  const unsubscribe = bus.observeHandled(observe);
  bus.attach(component);
  return {
    flush,
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    get batches() {
      return batches;
    },
    get store() {
      return store;
    },
  };
}
