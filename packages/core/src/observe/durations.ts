/**
 * The two duration histograms (`messaging.client.operation.duration`, `messaging.process.duration`)
 * kept by the buses themselves, for an exporter that reads them at collection (the OpenTelemetry
 * SDK's `MetricProducer` of `@missive/otel`). A histogram `record(value, attributes)` through the
 * metrics API makes the SDK hash the attribute set on every message (11–13 % of the CPU of a message
 * traced and measured by the SDK, docs/BENCHMARKS.md); a cell here is found by one `Map` lookup on a
 * string the bus already has. Same buckets, sums, counts, minimum and maximum as the SDK's
 * explicit-bucket histogram, reported as cumulative totals.
 *
 * The buses record here only for a meter whose durations an exporter has claimed
 * ({@link MessageDurations.claim}); otherwise they record through the metrics API as usual.
 *
 * @example
 * ```ts
 * const durations = MessageDurations.claim(meterProvider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version));
 * // at each collection:
 * for (const histogram of durations.histograms()) for (const cell of histogram.cells()) send(histogram.name, cell);
 * ```
 * @module
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import { Metric } from './metric-names.js';
import type { ProducerOperation } from './tracing.js';

/** The bucket boundaries of every duration histogram, seconds (upper bounds, inclusive). */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** The running histogram of one attribute set. */
export class DurationCell {
  /** Counts per bucket: `counts[i]` for values in (`DURATION_BUCKETS[i-1]`, `DURATION_BUCKETS[i]`], the last above them all. */
  readonly counts: number[] = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  /** `attributes`: frozen, as the exporter reports them. */
  constructor(readonly attributes: Attributes) {}

  /** Adds one duration, seconds. */
  record(seconds: number): void {
    if (Number.isNaN(seconds)) return;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && DURATION_BUCKETS[bucket]! < seconds) bucket++;
    this.counts[bucket]!++;
    this.count++;
    this.sum += seconds;
    if (seconds < this.min) this.min = seconds;
    if (seconds > this.max) this.max = seconds;
  }
}

/** Duration cells by key; a cell, once made, is kept (a cumulative histogram never goes back). */
export class DurationCells {
  private readonly cells = new Map<string, DurationCell>();

  /** The cell of `key`, if made. */
  get(key: string): DurationCell | undefined {
    return this.cells.get(key);
  }

  /** Makes the cell of `key` with `attributes` (frozen here). */
  add(key: string, attributes: Attributes): DurationCell {
    const cell = new DurationCell(Object.isFrozen(attributes) ? attributes : Object.freeze(attributes));
    this.cells.set(key, cell);
    return cell;
  }

  /** The cells recorded at least once. */
  *recorded(): IterableIterator<DurationCell> {
    for (const cell of this.cells.values()) if (cell.count > 0) yield cell;
  }
}

/** The cells of the buses on one kind of transport (`messaging.system`): the keys leave the system out. */
export class SystemDurations {
  /** Sends that succeeded, by operation, keyed by destination. */
  readonly sent: Readonly<Record<ProducerOperation, DurationCells>> = {
    publish: new DurationCells(),
    send: new DurationCells(),
    create: new DurationCells(),
  };
  /** Sends that failed, keyed by operation, destination and error type. */
  readonly failedSends = new DurationCells();
  /** Handler attempts, keyed by queue (and, when it threw, the error type). */
  readonly processed = new DurationCells();
}

/** One histogram as an exporter reports it. */
export interface DurationHistogram {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** Its attribute sets recorded at least once. */
  cells(): Iterable<DurationCell>;
}

/** The durations claimed per meter. */
const byMeter = new WeakMap<Meter, MessageDurations>();

/** The duration histograms of the buses that use one meter, once an exporter claimed them. */
export class MessageDurations {
  private readonly systems = new Map<string, SystemDurations>();
  /** When the claim was made (`Date.now()`): the start of every cumulative total. */
  readonly startedAt = Date.now();

  /**
   * The buses that use `meter` record their durations here from now on, not through the meter's
   * histograms (they then make none): the caller reports them at each collection. Claim before the
   * buses start. The same object for every claim of one meter.
   */
  static claim(meter: Meter): MessageDurations {
    let durations = byMeter.get(meter);
    if (durations === undefined) {
      durations = new MessageDurations();
      byMeter.set(meter, durations);
    }
    return durations;
  }

  /** The durations of `meter` if an exporter claimed them. */
  static claimed(meter: Meter): MessageDurations | undefined {
    return byMeter.get(meter);
  }

  private constructor() {}

  /** The cells of the buses on `system`. */
  of(system: string): SystemDurations {
    let durations = this.systems.get(system);
    if (durations === undefined) {
      durations = new SystemDurations();
      this.systems.set(system, durations);
    }
    return durations;
  }

  /** The two histograms, with the names, units and descriptions the metrics API's would have. */
  histograms(): readonly DurationHistogram[] {
    const systems = this.systems;
    return [
      {
        ...DURATION_DESCRIPTIONS.operation,
        *cells() {
          for (const counts of systems.values()) {
            for (const cells of Object.values(counts.sent)) yield* cells.recorded();
            yield* counts.failedSends.recorded();
          }
        },
      },
      {
        ...DURATION_DESCRIPTIONS.process,
        *cells() {
          for (const counts of systems.values()) yield* counts.processed.recorded();
        },
      },
    ];
  }
}

/** Name, unit and description of the two duration histograms (the metrics API's and the bus's own alike). */
export const DURATION_DESCRIPTIONS = {
  operation: { name: Metric.OperationDuration, unit: 's', description: 'Duration of publish and send operations' },
  process: { name: Metric.ProcessDuration, unit: 's', description: 'Duration of handler attempts' },
} as const;
