/**
 * Message metrics through the OpenTelemetry metrics API, with the semantic-convention names
 * (`messaging.client.sent.messages`, `messaging.client.operation.duration`,
 * `messaging.client.consumed.messages`, `messaging.process.duration`) and Missive's own: retries,
 * dead letters by reason, in-flight handlers, queue and dead-letter depth (observed from the
 * transport's queue listing, at most {@link QUEUES_MAX_AGE_MS} old), circuit state and outbox relay lag.
 *
 * Instruments are made at `bus.start()` from the global meter provider: register the SDK's
 * MeterProvider before starting the bus. Without one, every instrument is a no-op.
 *
 * The counters (sent, consumed, retries, dead letters) are counted by the bus and reported through
 * observable counters when the provider collects (see counts.ts): same names, attributes and
 * totals, without the SDK hashing attributes on every message. The durations are histograms
 * recorded per message through the metrics API (it has no observable histogram), unless an exporter
 * claimed them (`@missive/otel` does, see durations.ts): then the bus keeps them, as the counters.
 *
 * @example
 * ```ts
 * const meters = new BusMetrics();
 * meters.start('rabbitmq', { queues: () => transport.queues(), endpoints: () => [] });
 * meters.consumed('billing');
 * ```
 * @module
 */
import {
  createNoopMeter,
  metrics,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Histogram,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import type { CircuitState } from '../policies/circuit-breaker.js';
import type { QueueInfo } from '../transport/transport.js';
import { MessageCounts, type CountCell, type SystemCounts } from './counts.js';
import { DURATION_BUCKETS, DURATION_DESCRIPTIONS, MessageDurations, type DurationCell, type SystemDurations } from './durations.js';
import { Metric } from './metric-names.js';
import { Attr, errorType, INSTRUMENTATION_SCOPE, type ProducerOperation, type ProducerSpan } from './tracing.js';

export { Metric };

/** Circuit states as the `missive.circuit.state` gauge reports them. */
export const CIRCUIT_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, 'half-open': 1, open: 2 };

/** What the observable gauges read from the bus when they are collected. */
export interface MetricSources {
  /** The transport's queues (the bus's own endpoints are picked out of them). */
  queues(): Promise<QueueInfo[]>;
  /** The bus's endpoints: name, in-flight handlers, circuit state. */
  endpoints(): readonly { readonly name: string; readonly inFlight: number; readonly circuit: CircuitState }[];
}

const NOOP_COUNTER = createNoopMeter().createCounter('missive.probe');

/** How long a collection waits for the queue listing (a broker that is down must not hang a scrape). */
const QUEUES_TIMEOUT_MS = 2000;

/**
 * How long one queue listing feeds the depth gauges, ms: collections in between (a second reader,
 * a push every second) reuse it. On RabbitMQ a listing checks every queue the registry names and
 * costs milliseconds of CPU (docs/BENCHMARKS.md, issue 15), whatever the message rate.
 */
export const QUEUES_MAX_AGE_MS = 10_000;

/** The transport's queues, or none when it cannot list them in time (the depth gauges are then left out). */
async function listQueues(sources: MetricSources): Promise<QueueInfo[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<QueueInfo[]>((resolve) => {
    timer = setTimeout(() => resolve([]), QUEUES_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([sources.queues().catch(() => []), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The metrics of one bus. */
export class BusMetrics {
  private meter: Meter | undefined;
  /** Set once the instruments are made (a provider was registered at start): the per-message methods return at once until then. */
  private on = false;
  private operationDuration: Histogram | undefined;
  private processDuration: Histogram | undefined;
  private outboxLag: Histogram | undefined;
  private observables: Observable[] = [];
  private observe: BatchObservableCallback | undefined;
  /**
   * The counters, kept by the buses and reported by observable counters at collection (see
   * counts.ts): the SDK hashes a synchronous measurement's attributes each time it is recorded.
   */
  private counts: SystemCounts | undefined;
  /** The duration histograms, kept by the buses when an exporter claimed them (see durations.ts); else undefined. */
  private durations: SystemDurations | undefined;
  /** Attributes per endpoint (the histograms' and gauges'), made once. */
  private readonly endpoints = new Map<string, Attributes>();
  private system = 'missive';

  /** Makes the instruments from the global meter provider (once) and starts observing `sources`. */
  start(system: string, sources: MetricSources): void {
    this.system = system;
    if (this.meter === undefined) {
      const meter = metrics.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      // No meter provider registered: leave every instrument out (the per-message calls return at once).
      if (meter.createCounter('missive.probe') === NOOP_COUNTER) return;
      this.meter = meter;
      this.makeInstruments(meter);
    }
    // The counts stay reported after the bus stops, as a synchronous counter's would.
    this.counts = MessageCounts.of(this.meter).of(system);
    this.durations = MessageDurations.claimed(this.meter)?.of(system);
    const [inFlight, circuit, depth, dead] = this.observables as [Observable, Observable, Observable, Observable];
    let listing: { readonly at: number; readonly queues: Promise<QueueInfo[]> } | undefined;
    const queues = (): Promise<QueueInfo[]> => {
      const now = performance.now();
      if (listing === undefined || now - listing.at >= QUEUES_MAX_AGE_MS) listing = { at: now, queues: listQueues(sources) };
      return listing.queues;
    };
    this.observe = async (result) => {
      const endpoints = sources.endpoints();
      for (const endpoint of endpoints) {
        const attributes = this.endpointAttributes(endpoint.name);
        result.observe(inFlight, endpoint.inFlight, attributes);
        result.observe(circuit, CIRCUIT_VALUE[endpoint.circuit], attributes);
      }
      if (endpoints.length === 0) return;
      const names = new Set(endpoints.map((e) => e.name));
      for (const queue of await queues()) {
        if (!names.has(queue.name)) continue;
        const attributes = this.endpointAttributes(queue.name);
        result.observe(depth, queue.depth, attributes);
        result.observe(dead, queue.deadLetters, attributes);
      }
    };
    this.meter.addBatchObservableCallback(this.observe, this.observables);
  }

  private makeInstruments(meter: Meter): void {
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] } };
    // Claimed durations are reported by the exporter that claimed them: no instrument of the same name.
    if (MessageDurations.claimed(meter) === undefined) {
      const { operation, process } = DURATION_DESCRIPTIONS;
      this.operationDuration = meter.createHistogram(operation.name, { ...seconds, description: operation.description });
      this.processDuration = meter.createHistogram(process.name, { ...seconds, description: process.description });
    }
    this.outboxLag = meter.createHistogram(Metric.OutboxLag, {
      ...seconds,
      description: 'Time from an outbox commit to the broker having the message',
    });
    const inFlight = meter.createObservableUpDownCounter(Metric.InFlight, {
      unit: '{message}',
      description: 'Handlers running now',
      valueType: ValueType.INT,
    });
    const circuit = meter.createObservableGauge(Metric.CircuitState, {
      description: 'Circuit breaker state: 0 closed, 1 half-open, 2 open',
      valueType: ValueType.INT,
    });
    const depth = meter.createObservableGauge(Metric.QueueDepth, {
      unit: '{message}',
      description: 'Messages waiting in the queue',
      valueType: ValueType.INT,
    });
    const dead = meter.createObservableGauge(Metric.DeadLetterDepth, {
      unit: '{message}',
      description: 'Messages in the dead-letter queue',
      valueType: ValueType.INT,
    });
    this.observables = [inFlight, circuit, depth, dead];
    this.on = true;
  }

  /** Stops observing (the instruments stay, idle). */
  stop(): void {
    if (this.meter !== undefined && this.observe !== undefined) this.meter.removeBatchObservableCallback(this.observe, this.observables);
    this.observe = undefined;
  }

  /**
   * A publish or send finished (`error` when it failed). Its duration is recorded when the
   * producer's `startedAt` was read (see {@link recording}).
   */
  sent(producer: ProducerSpan, error: Error | undefined): void {
    if (!this.on) return;
    const { operation, destination, startedAt } = producer;
    const cells = this.counts!.sent[operation];
    let cell = cells.get(destination);
    if (cell === undefined) {
      cell = cells.add(destination, { [Attr.System]: this.system, [Attr.Destination]: destination, [Attr.OperationName]: operation });
    }
    let durations: DurationCell | undefined;
    if (error !== undefined) {
      const type = errorType(error);
      cell = this.failedSend(cell, operation, destination, type);
      if (this.durations !== undefined) {
        const key = `${operation}\u0000${destination}\u0000${type}`;
        durations = this.durations.failedSends.get(key) ?? this.durations.failedSends.add(key, cell.attributes);
      }
    } else if (this.durations !== undefined) {
      const cells = this.durations.sent[operation];
      durations = cells.get(destination) ?? cells.add(destination, cell.attributes);
    }
    cell.value++;
    if (startedAt < 0) return;
    const seconds = (performance.now() - startedAt) / 1000;
    if (durations !== undefined) durations.record(seconds);
    else this.operationDuration!.record(seconds, cell.attributes);
  }

  /** A delivery was taken from `queue`. */
  consumed(queue: string): void {
    if (!this.on) return;
    const consumed = this.counts!.consumed;
    const cell = consumed.get(queue) ?? consumed.add(queue, this.endpointAttributes(queue));
    cell.value++;
  }

  /**
   * Whether the per-message methods record anything (a meter provider was registered at start).
   * A caller may skip what it would measure only for them (the clock read of {@link processed}'s
   * and {@link sent}'s `startedAt`, the call itself) while this is false.
   */
  get recording(): boolean {
    return this.on;
  }

  /**
   * A handler attempt on `queue` ended (`error` when it threw). `startedAt`: `performance.now()` when
   * it started, or negative when it was not read (metrics were not {@link recording} then): its
   * duration is not recorded.
   */
  processed(queue: string, startedAt: number, error: Error | undefined): void {
    if (!this.on || startedAt < 0) return;
    const seconds = (performance.now() - startedAt) / 1000;
    const base = this.endpointAttributes(queue);
    if (this.durations === undefined) {
      this.processDuration!.record(seconds, error === undefined ? base : { ...base, [Attr.ErrorType]: errorType(error) });
      return;
    }
    const processed = this.durations.processed;
    let cell: DurationCell;
    if (error === undefined) cell = processed.get(queue) ?? processed.add(queue, base);
    else {
      const type = errorType(error);
      const key = `${queue}\u0000${type}`;
      cell = processed.get(key) ?? processed.add(key, { ...base, [Attr.ErrorType]: type });
    }
    cell.record(seconds);
  }

  /** A retry was asked for. */
  retried(queue: string, mode: 'immediate' | 'delayed'): void {
    if (!this.on) return;
    const key = `${queue}\u0000${mode}`;
    const retries = this.counts!.retries;
    const cell = retries.get(key) ?? retries.add(key, { ...this.endpointAttributes(queue), 'missive.retry.mode': mode });
    cell.value++;
  }

  /** A message was dead-lettered for `reason`. */
  deadLettered(queue: string, reason: string): void {
    if (!this.on) return;
    const key = `${queue}\u0000${reason}`;
    const dead = this.counts!.deadLetters;
    const cell = dead.get(key) ?? dead.add(key, { ...this.endpointAttributes(queue), [Attr.DeadLetterReason]: reason });
    cell.value++;
  }

  /** An outbox message reached the broker `lagMs` after its commit. */
  relayed(lagMs: number): void {
    this.outboxLag?.record(Math.max(0, lagMs) / 1000, { [Attr.System]: this.system });
  }

  /** The cell of a failed send: the send's attributes and `error.type`. */
  private failedSend(ok: CountCell, operation: ProducerOperation, destination: string, type: string): CountCell {
    const key = `${operation}\u0000${destination}\u0000${type}`;
    const failed = this.counts!.failedSends;
    return failed.get(key) ?? failed.add(key, { ...ok.attributes, [Attr.ErrorType]: type });
  }

  private endpointAttributes(queue: string): Attributes {
    let attributes = this.endpoints.get(queue);
    if (attributes === undefined) {
      attributes = Object.freeze({ [Attr.System]: this.system, [Attr.Destination]: queue, [Attr.ConsumerGroup]: queue });
      this.endpoints.set(queue, attributes);
    }
    return attributes;
  }
}
