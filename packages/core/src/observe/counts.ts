/**
 * The message counters (sent, consumed, retries, dead letters), counted by the buses themselves,
 * one cell per attribute set, and reported through observable counters when the meter provider
 * collects. A synchronous `counter.add(1, attributes)` makes the SDK hash the attributes on every
 * message; a cell is found by one `Map` lookup on a string the bus already has (a destination, a
 * queue name), and the SDK sees each attribute set once per collection. The totals are the same:
 * an observable counter reports the running total, and the SDK turns it into deltas when its
 * exporter asks for them.
 *
 * All the buses of a process that use one meter share one {@link MessageCounts}: two callbacks
 * observing the same attribute set would overwrite each other's totals, where a synchronous counter
 * adds them up.
 *
 * @example
 * ```ts
 * const counts = MessageCounts.of(meter).of('rabbitmq');
 * const cell = counts.consumed.get('billing') ?? counts.consumed.add('billing', attributes);
 * cell.value++;
 * ```
 * @module
 */
import { ValueType, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import { Metric } from './metric-names.js';
import type { ProducerOperation } from './tracing.js';

/** The running total of one attribute set. */
export interface CountCell {
  /** Frozen: the histograms of the same operation reuse them. */
  readonly attributes: Attributes;
  value: number;
}

/** Count cells by key; a cell, once made, is kept (a counter's total never goes back). */
export class CountCells {
  private readonly cells = new Map<string, CountCell>();

  /** The cell of `key`, if made. */
  get(key: string): CountCell | undefined {
    return this.cells.get(key);
  }

  /** Makes the cell of `key` with `attributes` (frozen here). */
  add(key: string, attributes: Attributes): CountCell {
    const cell: CountCell = { attributes: Object.isFrozen(attributes) ? attributes : Object.freeze(attributes), value: 0 };
    this.cells.set(key, cell);
    return cell;
  }

  /** Reports every cell counted at least once as `instrument`'s value for its attributes. */
  observe(result: BatchObservableResult, instrument: Observable): void {
    for (const cell of this.cells.values()) if (cell.value > 0) result.observe(instrument, cell.value, cell.attributes);
  }
}

/** The cells of the buses on one kind of transport (`messaging.system`): the keys leave the system out. */
export class SystemCounts {
  /** `messaging.client.sent.messages` that succeeded, by operation, keyed by destination. */
  readonly sent: Readonly<Record<ProducerOperation, CountCells>> = {
    publish: new CountCells(),
    send: new CountCells(),
    create: new CountCells(),
  };
  /** Sends that failed, keyed by operation, destination and error type. */
  readonly failedSends = new CountCells();
  /** `messaging.client.consumed.messages`, keyed by queue. */
  readonly consumed = new CountCells();
  /** `missive.retries`, keyed by queue and mode. */
  readonly retries = new CountCells();
  /** `missive.dead_letters`, keyed by queue and reason. */
  readonly deadLetters = new CountCells();
}

/** The counters of one meter, shared by every bus that uses it. */
const byMeter = new WeakMap<Meter, MessageCounts>();

/** The message counters of the buses that use one meter; reported for as long as the meter lives. */
export class MessageCounts {
  private readonly systems = new Map<string, SystemCounts>();

  /** The counts of `meter`, made with its observable counters the first time. */
  static of(meter: Meter): MessageCounts {
    let counts = byMeter.get(meter);
    if (counts === undefined) {
      counts = new MessageCounts(meter);
      byMeter.set(meter, counts);
    }
    return counts;
  }

  /** The cells of the buses on `system`. */
  of(system: string): SystemCounts {
    let counts = this.systems.get(system);
    if (counts === undefined) {
      counts = new SystemCounts();
      this.systems.set(system, counts);
    }
    return counts;
  }

  private constructor(meter: Meter) {
    const sent = meter.createObservableCounter(Metric.SentMessages, {
      unit: '{message}',
      description: 'Messages the bus handed to the broker',
      valueType: ValueType.INT,
    });
    const consumed = meter.createObservableCounter(Metric.ConsumedMessages, {
      unit: '{message}',
      description: 'Messages delivered to the bus by the broker',
      valueType: ValueType.INT,
    });
    const retries = meter.createObservableCounter(Metric.Retries, {
      unit: '{retry}',
      description: 'Retries asked for, immediate or delayed',
      valueType: ValueType.INT,
    });
    const deadLetters = meter.createObservableCounter(Metric.DeadLetters, {
      unit: '{message}',
      description: 'Messages dead-lettered, by reason',
      valueType: ValueType.INT,
    });
    meter.addBatchObservableCallback(
      (result) => {
        for (const counts of this.systems.values()) {
          for (const cells of Object.values(counts.sent)) cells.observe(result, sent);
          counts.failedSends.observe(result, sent);
          counts.consumed.observe(result, consumed);
          counts.retries.observe(result, retries);
          counts.deadLetters.observe(result, deadLetters);
        }
      },
      [sent, consumed, retries, deadLetters],
    );
  }
}
