/**
 * The bus: one per service process. It owns a transport connection, the service's endpoints, the
 * outgoing pipeline, request/reply, scheduling and the dead-letter API.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'payment', transport: process.env.MISSIVE_URL ?? 'sqlite://.missive/bus.db' });
 * bus.endpoint('payment', (e) => e.on(ChargeCard, chargeCard));
 * await bus.start();
 * await bus.send(ChargeCard, { orderId: 'o-1', amount: 30 });
 * await bus.stop();
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import { BusStateError, ConfigurationError, ErrorCode } from '../errors.js';
import { consoleLogger, type Logger } from '../logger.js';
import { jsonCodec, type Codec } from '../message/codec.js';
import type { CommandContract, EventContract, PayloadInput, QueryContract, Reply } from '../contracts/contract.js';
import { defaultRetryOptions, retryPolicy, type RetryOptions } from '../policies/retry-policy.js';
import type { ConsumeContext, PublishOptions, RequestOptions, SendOptions, Sender } from '../consume/context.js';
import { defineEndpoint, type EndpointBuilder, type EndpointDefinition, type EndpointOptions } from '../consume/endpoint.js';
import type { Middleware } from '../consume/pipeline.js';
import { checkOwnersInProcess } from '../transport/command-owners.js';
import { DeadLetterQueue } from '../transport/dead-letter-queue.js';
import type { Transport } from '../transport/transport.js';
import { checkTransportFactories, loadTransport, type TransportFactories } from '../transport/transport-url.js';
import type { MessageStore } from '../workflows/message-store.js';
import { createOutbox, type Outbox, type OutboxOptions } from '../workflows/outbox.js';
import type { SagaDefinition } from '../workflows/saga.js';
import { installSaga, type SagaOptions } from '../workflows/saga-runtime.js';
import { MessageTracing } from '../observe/tracing.js';
import { BusMetrics } from '../observe/metrics.js';
import type { HealthReport } from '../observe/health.js';
import type { HandledObserver } from '../observe/handled.js';
import { busCore, type BusComponent, type BusCore, type BusInternals, type BusState } from './bus-core.js';
import { busInternals } from './bus-internals.js';
import {
  checkBusOptionKeys,
  nonNegative,
  serviceOf,
  transportSpecOf,
  type BusDescription,
  type BusEvents,
  type BusOptions,
  type BusStats,
  type ScheduleOptions,
} from './bus-options.js';
import { busDescription, busHealth, busStats } from './bus-reports.js';
import { EndpointRuntime } from './endpoint-runtime.js';
import { TypedEmitter } from './events.js';
import { Outgoing } from './outgoing.js';
import { dueTime } from './outgoing-checks.js';
import { Requests } from './request-reply.js';

export type { BusComponent } from './bus-core.js';
export type { PublishContext, PublishMiddleware } from './publish-context.js';
export type { BusDescription, BusEvents, BusOptions, BusStats, ScheduleOptions } from './bus-options.js';

/** The bus. Create it with {@link createBus}. */
export class Bus implements Sender {
  readonly service: string;
  readonly instanceId: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly codec: Codec;
  private readonly emitter: TypedEmitter<BusEvents>;
  private readonly handledObservers: { list: readonly HandledObserver[] } = { list: [] };
  private readonly transportSpec: URL | Transport;
  private readonly transports: TransportFactories;
  private transport_: Transport | undefined;
  private readonly definitions: EndpointDefinition[] = [];
  private readonly runtimes: EndpointRuntime[] = [];
  private readonly defaultRetry: RetryOptions;
  private readonly consumeMiddleware: readonly Middleware<ConsumeContext>[];
  private readonly stopTimeoutMs: number;
  private readonly host = hostname();
  private state: BusState = 'new';
  private readonly outgoing: Outgoing;
  private readonly requests: Requests;
  private readonly internals: BusInternals;
  private readonly core: BusCore;
  private readonly components: BusComponent[] = [];
  private readonly outboxes = new Map<MessageStore<never>, Outbox<never>>();
  private readonly tracing = new MessageTracing();
  private readonly meters: BusMetrics;

  constructor(options: BusOptions) {
    this.service = serviceOf(options);
    checkBusOptionKeys(options);
    this.instanceId = options.instanceId ?? randomUUID().slice(0, 8);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger('warn');
    this.codec = options.codec ?? jsonCodec();
    this.emitter = new TypedEmitter(this.logger);
    this.meters = new BusMetrics();
    this.transports = checkTransportFactories(options.transports);
    this.transportSpec = transportSpecOf(options.transport);
    this.defaultRetry = options.retry ?? defaultRetryOptions;
    retryPolicy(this.defaultRetry);
    this.consumeMiddleware = options.middleware?.consume ?? [];
    this.stopTimeoutMs = nonNegative(options.stopTimeoutMs ?? 10_000, 'stopTimeoutMs');
    const requestTimeoutMs = nonNegative(options.requestTimeoutMs ?? 30_000, 'requestTimeoutMs');
    const transport = () => this.transport;
    const state = () => this.state;
    this.outgoing = new Outgoing({
      service: this.service,
      clock: this.clock,
      codec: this.codec,
      logger: this.logger,
      tracing: this.tracing,
      metrics: this.meters,
      validateOutgoing: options.validateOutgoing ?? true,
      middleware: options.middleware?.publish ?? [],
      faultEvents: options.faultEvents === true,
      transport,
      state,
    });
    this.requests = new Requests({
      service: this.service,
      instanceId: this.instanceId,
      clock: this.clock,
      codec: this.codec,
      logger: this.logger,
      timeoutMs: requestTimeoutMs,
      outgoing: this.outgoing,
      transport,
      state,
    });
    this.internals = busInternals({
      service: this.service,
      host: this.host,
      codec: this.codec,
      clock: this.clock,
      logger: this.logger,
      tracing: this.tracing,
      metrics: this.meters,
      middleware: this.consumeMiddleware,
      outgoing: this.outgoing,
      requests: this.requests,
      emitter: this.emitter,
      handledObservers: this.handledObservers,
      transport,
    });
    this.core = busCore({ logger: this.logger, clock: this.clock, codec: this.codec }, transport, {
      prepare: (parent, contract, payload, prepareOptions) => this.outgoing.prepare(parent, contract, payload, prepareOptions),
      dispatchPrepared: (record) => this.outgoing.dispatchPrepared(record),
      attach: (component) => void this.attach(component),
      endpoint: (name, configure, endpointOptions) => void this.endpoint(name, configure, endpointOptions),
    });
  }

  /** The connected transport. Throws before `start`. */
  get transport(): Transport {
    if (this.transport_ === undefined)
      throw new BusStateError(ErrorCode.NotStarted, `bus ${this.service} is not started: call bus.start() first`);
    return this.transport_;
  }

  /** Whether `start` has completed and `stop` has not begun. */
  get started(): boolean {
    return this.state === 'started';
  }

  /**
   * Defines an endpoint: a queue of this service and its handlers. Call before `start`.
   * @example
   * ```ts
   * bus.endpoint('billing', (e) => e.on(OrderPlaced, bill), { concurrency: 4 });
   * ```
   */
  endpoint(name: string, configure: (e: EndpointBuilder) => void, options: EndpointOptions = {}): this {
    if (this.state !== 'new') throw new ConfigurationError(`endpoint ${name}: endpoints must be defined before bus.start()`);
    if (this.definitions.some((d) => d.name === name)) throw new ConfigurationError(`endpoint ${name} is defined twice`);
    this.definitions.push(defineEndpoint(name, configure, options, this.defaultRetry));
    return this;
  }

  /**
   * The outbox of `store` on this bus (created on first use; its relay starts and stops with the bus).
   * @example
   * ```ts
   * const outbox = bus.outbox(store);
   * await outbox.transaction((tx) => tx.publish(OrderPlaced, { orderId: 'o-1', total: 30 }));
   * ```
   */
  outbox<Tx>(store: MessageStore<Tx>, options?: OutboxOptions): Outbox<Tx> {
    let outbox = this.outboxes.get(store) as Outbox<Tx> | undefined;
    if (outbox === undefined) {
      outbox = createOutbox(this.core, store, options);
      this.outboxes.set(store, outbox as Outbox<never>);
    }
    return outbox;
  }

  /**
   * Runs a saga: an endpoint for its messages and timeouts, its instances in `options.store`.
   * @example
   * ```ts
   * bus.saga(OrderSaga, { store, concurrency: 4 });
   * ```
   */
  saga<State, Tx>(definition: SagaDefinition<State>, options: SagaOptions<Tx>): this {
    if (options?.store === undefined)
      throw new ConfigurationError(`saga ${definition?.name}: options.store is required (MemoryMessageStore, SqliteMessageStore ...)`);
    installSaga(this.core, definition, this.outbox(options.store, options.outbox), options);
    return this;
  }

  /**
   * Adds a component that starts and stops with the bus: started after the endpoints, stopped
   * after they drained and before the transport closes. Call before `start`.
   * @example
   * ```ts
   * bus.attach(createProjection({ name: 'history', store, handle }));
   * ```
   */
  attach(component: BusComponent): this {
    if (this.state !== 'new') throw new ConfigurationError('components must be attached before bus.start()');
    this.components.push(component);
    return this;
  }

  /** Listens to a bus event; returns a function that stops listening. */
  on<K extends keyof BusEvents>(event: K, listener: (payload: BusEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Observes every settled delivery, as the `handled` event reports it but with its fields as
   * positional arguments ({@link HandledObserver}): no event object is built per delivery while
   * only observers watch. For a journal or an audit on the hot path; `on('handled', …)` is the
   * simpler form. Returns a function that stops observing.
   * @example
   * ```ts
   * const stop = bus.observeHandled((service, endpoint, envelope, messageId, type, attempt, outcome, durationMs) => {
   *   if (outcome === 'dead-lettered') alerts.push({ endpoint, messageId, durationMs });
   * });
   * ```
   */
  observeHandled(observer: HandledObserver): () => void {
    const observers = this.handledObservers;
    observers.list = [...observers.list, observer];
    return () => {
      observers.list = observers.list.filter((o) => o !== observer);
    };
  }

  /** Connects the transport, declares every endpoint's queue and starts consuming. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new BusStateError(ErrorCode.Closed, `bus ${this.service} was already started`);
    this.state = 'starting';
    try {
      checkOwnersInProcess(this.definitions);
      const transport =
        this.transportSpec instanceof URL
          ? await loadTransport(this.transportSpec, { clock: this.clock, logger: this.logger }, this.transports)
          : this.transportSpec;
      await transport.connect();
      this.transport_ = transport;
      if (transport.commandOwners === undefined && this.definitions.some((d) => d.commands.length > 0)) {
        this.logger.warn(
          `the ${transport.kind} transport cannot record command owners: only this bus's endpoints are checked for a second handler of a command`,
        );
      }
      this.tracing.system = transport.kind;
      this.meters.start(transport.kind, {
        queues: () => transport.queues(),
        endpoints: () => this.runtimes.map((r) => ({ name: r.definition.name, inFlight: r.stats.inFlight, circuit: r.stats.circuit })),
      });
      for (const definition of this.definitions) {
        const runtime = new EndpointRuntime(definition, this.internals);
        this.runtimes.push(runtime);
        await runtime.start();
      }
      for (const component of this.components) await component.start(transport);
      this.state = 'started';
    } catch (error) {
      this.state = 'stopping';
      await this.shutdown(0).catch(() => undefined);
      this.state = 'stopped';
      throw error;
    }
  }

  /**
   * Stops consuming, lets in-flight handlers finish for up to `timeoutMs` (default: the bus's
   * `stopTimeoutMs`), hands the rest back for redelivery, fails pending requests, and closes the
   * transport. Completed work is acked before the transport closes.
   */
  async stop(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await this.shutdown(options.timeoutMs ?? this.stopTimeoutMs);
    this.state = 'stopped';
  }

  /**
   * True while the bus is started and every endpoint's consumer is running (an open circuit is a
   * pause, not a failure). For readiness probes: false after `consumer-failed`.
   * @example
   * ```ts
   * http.get('/ready', (_, res) => res.status(bus.ready ? 200 : 503).end());
   * ```
   */
  get ready(): boolean {
    return this.state === 'started' && this.runtimes.every((runtime) => runtime.failure === undefined);
  }

  /** Counters per endpoint. */
  stats(): BusStats {
    return busStats(this.runtimes, this.requests.size);
  }

  /**
   * Liveness and readiness with their reasons: transport connected, each endpoint's consumer
   * running and ready, circuits, last handler errors, outbox relay lag. See `serveHealth`.
   */
  health(): HealthReport {
    return busHealth(this.state, this.transport_, this.runtimes, this.outgoing.lastRelay);
  }

  /**
   * This bus's endpoints, the contracts they handle, and the contracts it has sent so far: what a
   * service catalog announces.
   * @example
   * ```ts
   * const { endpoints, sends } = bus.describe();
   * ```
   */
  describe(): BusDescription {
    const bus = { service: this.service, instanceId: this.instanceId, host: this.host };
    return busDescription(bus, this.definitions, this.outgoing.sentContracts());
  }

  /** The dead-letter queues of this bus's transport: list, inspect, replay, purge. */
  get deadLetters(): DeadLetterQueue {
    return new DeadLetterQueue(this.transport, this.clock);
  }

  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): Promise<void> {
    return this.outgoing.publishFrom(undefined, contract, payload, options);
  }

  send<C extends CommandContract>(contract: C, payload: PayloadInput<C>, options?: SendOptions): Promise<void> {
    return this.outgoing.sendFrom(undefined, contract, payload, options);
  }

  request<Q extends QueryContract>(query: Q, payload: PayloadInput<Q>, options?: RequestOptions): Promise<Reply<Q>> {
    return this.requests.request(undefined, query, payload, options);
  }

  /**
   * Schedules an event or command for later; returns an id that {@link Bus.cancel} takes.
   * @example
   * ```ts
   * const id = await bus.schedule(PaymentTimeout, { orderId }, { delayMs: 15 * 60_000 });
   * await bus.cancel(id);
   * ```
   */
  async schedule<C extends EventContract | CommandContract>(
    contract: C,
    payload: PayloadInput<C>,
    options: ScheduleOptions,
  ): Promise<string> {
    const notBefore = dueTime(this.clock, options.at, options.delayMs);
    if (notBefore === undefined) throw new ConfigurationError(`schedule ${contract.name}: give "at" or "delayMs"`);
    const scheduleId = randomUUID();
    await this.outgoing.dispatch(undefined, contract, contract.kind, payload, { ...options, at: notBefore }, options.to, scheduleId);
    return scheduleId;
  }

  /** Cancels a scheduled message that is not yet due; resolves true if it was. */
  async cancel(scheduleId: string): Promise<boolean> {
    const transport = this.transport;
    if (!transport.capabilities.cancelScheduled) {
      throw new ConfigurationError(`the ${transport.kind} transport cannot cancel scheduled messages`);
    }
    return transport.cancelScheduled(scheduleId);
  }

  // --- shutdown -----------------------------------------------------------------------------

  private async shutdown(deadlineMs: number): Promise<void> {
    this.meters.stop();
    await Promise.all(this.runtimes.map((r) => r.stop(deadlineMs)));
    await this.requests.close();
    await this.outgoing.settled();
    for (const component of [...this.components].reverse()) {
      await component.stop().catch((error: unknown) => this.logger.error({ err: error }, 'a bus component failed to stop'));
    }
    await this.transport_?.close();
  }
}

/**
 * Creates a bus. Checks its options at once; the transport URL is checked here and its package
 * loaded at `start`.
 * @example
 * ```ts
 * const bus = createBus({ service: 'order', transport: 'memory://' });
 * ```
 */
export function createBus(options: BusOptions): Bus {
  return new Bus(options);
}
