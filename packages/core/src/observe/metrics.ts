/**
 * Message metrics through the OpenTelemetry metrics API, with the semantic-convention names
 * (`messaging.client.sent.messages`, `messaging.client.operation.duration`,
 * `messaging.client.consumed.messages`, `messaging.process.duration`) and Missive's own: retries,
 * dead letters by reason, in-flight handlers, queue and dead-letter depth (observed from the
 * transport's queue listing), circuit state and outbox relay lag.
 *
 * Instruments are made at `bus.start()` from the global meter provider: register the SDK's
 * MeterProvider before starting the bus. Without one, every instrument is a no-op.
 *
 * @example
 * ```ts
 * const meters = new BusMetrics('shop', 'rabbitmq');
 * meters.sent('publish', 'shop.order-placed', startedAt, undefined);
 * ```
 * @module
 */
import {
  createNoopMeter,
  metrics,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import type { CircuitState } from '../policies/circuit-breaker.js';
import type { QueueInfo } from '../transport/transport.js';
import { Attr, errorType, INSTRUMENTATION_SCOPE, type ProducerOperation, type ProducerSpan } from './tracing.js';

/** Metric names. */
export const Metric = {
  SentMessages: 'messaging.client.sent.messages',
  OperationDuration: 'messaging.client.operation.duration',
  ConsumedMessages: 'messaging.client.consumed.messages',
  ProcessDuration: 'messaging.process.duration',
  Retries: 'missive.retries',
  DeadLetters: 'missive.dead_letters',
  InFlight: 'missive.in_flight',
  QueueDepth: 'missive.queue.depth',
  DeadLetterDepth: 'missive.dead_letter.depth',
  CircuitState: 'missive.circuit.state',
  OutboxLag: 'missive.outbox.relay.lag',
} as const;

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

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The metrics of one bus. */
export class BusMetrics {
  private meter: Meter | undefined;
  private sentCounter: Counter | undefined;
  private operationDuration: Histogram | undefined;
  private consumedCounter: Counter | undefined;
  private processDuration: Histogram | undefined;
  private retriesCounter: Counter | undefined;
  private deadLetterCounter: Counter | undefined;
  private outboxLag: Histogram | undefined;
  private observables: Observable[] = [];
  private observe: BatchObservableCallback | undefined;
  /**
   * Attributes per destination and operation, made once. Few on purpose: the SDK hashes a
   * measurement's attributes each time it is recorded (the service is on the resource already).
   */
  private readonly producers: Record<ProducerOperation, Map<string, Attributes>> = {
    publish: new Map(),
    send: new Map(),
    create: new Map(),
  };
  private readonly endpoints = new Map<string, Attributes>();
  private system = 'missive';

  /** Makes the instruments from the global meter provider and starts observing `sources`. */
  start(system: string, sources: MetricSources): void {
    this.system = system;
    const meter = metrics.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
    // No meter provider registered: leave every instrument out (the per-message calls return at once).
    if (meter.createCounter('missive.probe') === NOOP_COUNTER) return;
    this.meter = meter;
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.sentCounter = meter.createCounter(Metric.SentMessages, {
      unit: '{message}',
      description: 'Messages the bus handed to the broker',
      valueType: ValueType.INT,
    });
    this.operationDuration = meter.createHistogram(Metric.OperationDuration, {
      ...seconds,
      description: 'Duration of publish and send operations',
    });
    this.consumedCounter = meter.createCounter(Metric.ConsumedMessages, {
      unit: '{message}',
      description: 'Messages delivered to the bus by the broker',
      valueType: ValueType.INT,
    });
    this.processDuration = meter.createHistogram(Metric.ProcessDuration, { ...seconds, description: 'Duration of handler attempts' });
    this.retriesCounter = meter.createCounter(Metric.Retries, {
      unit: '{retry}',
      description: 'Retries asked for, immediate or delayed',
      valueType: ValueType.INT,
    });
    this.deadLetterCounter = meter.createCounter(Metric.DeadLetters, {
      unit: '{message}',
      description: 'Messages dead-lettered, by reason',
      valueType: ValueType.INT,
    });
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
    this.observe = async (result) => {
      const endpoints = sources.endpoints();
      for (const endpoint of endpoints) {
        const attributes = this.endpointAttributes(endpoint.name);
        result.observe(inFlight, endpoint.inFlight, attributes);
        result.observe(circuit, CIRCUIT_VALUE[endpoint.circuit], attributes);
      }
      if (endpoints.length === 0) return;
      const names = new Set(endpoints.map((e) => e.name));
      for (const queue of await listQueues(sources)) {
        if (!names.has(queue.name)) continue;
        const attributes = this.endpointAttributes(queue.name);
        result.observe(depth, queue.depth, attributes);
        result.observe(dead, queue.deadLetters, attributes);
      }
    };
    meter.addBatchObservableCallback(this.observe, this.observables);
  }

  /** Stops observing (the instruments stay, idle). */
  stop(): void {
    if (this.meter !== undefined && this.observe !== undefined) this.meter.removeBatchObservableCallback(this.observe, this.observables);
    this.observe = undefined;
  }

  /** A publish or send finished (`error` when it failed). */
  sent(producer: ProducerSpan, error: Error | undefined): void {
    if (this.sentCounter === undefined) return;
    const { operation, destination, startedAt } = producer;
    const attributes =
      error === undefined
        ? this.producerAttributes(operation, destination)
        : { ...this.producerAttributes(operation, destination), [Attr.ErrorType]: errorType(error) };
    this.sentCounter.add(1, attributes);
    this.operationDuration!.record((performance.now() - startedAt) / 1000, attributes);
  }

  /** A delivery was taken from `queue`. */
  consumed(queue: string): void {
    if (this.consumedCounter === undefined) return;
    this.consumedCounter.add(1, this.endpointAttributes(queue));
  }

  /** A handler attempt on `queue` ended (`error` when it threw). */
  processed(queue: string, startedAt: number, error: Error | undefined): void {
    if (this.processDuration === undefined) return;
    const base = this.endpointAttributes(queue);
    this.processDuration.record(
      (performance.now() - startedAt) / 1000,
      error === undefined ? base : { ...base, [Attr.ErrorType]: errorType(error) },
    );
  }

  /** A retry was asked for. */
  retried(queue: string, mode: 'immediate' | 'delayed'): void {
    if (this.retriesCounter === undefined) return;
    this.retriesCounter.add(1, { ...this.endpointAttributes(queue), 'missive.retry.mode': mode });
  }

  /** A message was dead-lettered for `reason`. */
  deadLettered(queue: string, reason: string): void {
    if (this.deadLetterCounter === undefined) return;
    this.deadLetterCounter.add(1, { ...this.endpointAttributes(queue), [Attr.DeadLetterReason]: reason });
  }

  /** An outbox message reached the broker `lagMs` after its commit. */
  relayed(lagMs: number): void {
    this.outboxLag?.record(Math.max(0, lagMs) / 1000, { [Attr.System]: this.system });
  }

  private producerAttributes(operation: ProducerOperation, destination: string): Attributes {
    // Keyed by the destination string itself (the contract's name: its hash is cached), one map per operation.
    const byDestination = this.producers[operation];
    let attributes = byDestination.get(destination);
    if (attributes === undefined) {
      attributes = { [Attr.System]: this.system, [Attr.Destination]: destination, [Attr.OperationName]: operation };
      byDestination.set(destination, attributes);
    }
    return attributes;
  }

  private endpointAttributes(queue: string): Attributes {
    let attributes = this.endpoints.get(queue);
    if (attributes === undefined) {
      attributes = { [Attr.System]: this.system, [Attr.Destination]: queue, [Attr.ConsumerGroup]: queue };
      this.endpoints.set(queue, attributes);
    }
    return attributes;
  }
}
