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
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { hostname } from 'node:os';
import type { CircuitState } from './circuit-breaker.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { jsonCodec, type Codec } from './codec.js';
import type { ConsumeContext, PublishOptions, RequestOptions, SendOptions, Sender } from './context.js';
import { replyTypeOf, type AnyContract, type CommandContract, type EventContract, type PayloadInput, type QueryContract, type Reply } from './contract.js';
import { DeadLetterQueue } from './dead-letter-queue.js';
import { checkOwnersInProcess } from './command-owners.js';
import { defineEndpoint, type EndpointBuilder, type EndpointDefinition, type EndpointOptions, type ExpiredAction } from './endpoint.js';
import { EndpointRuntime, type BusInternals, type EndpointStats } from './endpoint-runtime.js';
import { createEnvelope, sourceOf, type Envelope, type MessageKind } from './envelope.js';
import { BusStateError, ConfigurationError, ErrorCode, RemoteHandlerError, RequestTimeoutError, UnroutableError, toError } from './errors.js';
import { TypedEmitter } from './events.js';
import { InFlightList } from './in-flight-list.js';
import { consoleLogger, type Logger } from './logger.js';
import type { RetryEvent } from './middleware/retry.js';
import { compose, type Middleware } from './pipeline.js';
import { defaultRetryOptions, retryPolicy, type RetryOptions } from './retry-policy.js';
import type { MessageStore, OutboxRecord } from './message-store.js';
import { createOutbox, type Outbox, type OutboxOptions } from './outbox.js';
import type { SagaDefinition } from './saga.js';
import { installSaga, type SagaOptions } from './saga-runtime.js';
import { LoopTurns } from './loop-turns.js';
import { Timestamps } from './timestamps.js';
import type { Consumer, Transport, TransportMessage } from './transport.js';
import { checkTransportFactories, loadTransport, parseTransportUrl, type TransportFactories } from './transport-url.js';
import { MessageTracing, type ProducerSpan } from './observe/tracing.js';
import { BusMetrics } from './observe/metrics.js';
import { faultContractOf, type Fault } from './observe/fault-events.js';
import type { HandledEvent } from './observe/handled.js';
import { healthReport, type EndpointHealth, type HealthReport } from './observe/health.js';
import { spanContextOf } from './observe/trace-context.js';
import { validate } from './validate.js';

/** A message on its way out, as publish middleware sees it. */
export interface PublishContext {
  readonly envelope: Envelope;
  /** `topic` for events, commands and queries routed by name; `queue` for direct sends and replies. */
  readonly destination: { readonly kind: 'topic' | 'queue'; readonly name: string };
  /** Epoch ms before which it is not delivered. */
  readonly notBefore: number | undefined;
  readonly items: Map<unknown, unknown>;
}

/** A publish middleware. */
export type PublishMiddleware = Middleware<PublishContext>;

/** Options of {@link createBus}. */
export interface BusOptions {
  /** The service's name: the source of its messages and part of its reply queue's name. */
  readonly service: string;
  /** A transport URL (`memory://`, `sqlite://path`, `amqp://...`) or a transport instance. */
  readonly transport: string | URL | Transport;
  /**
   * Transport factories by URL scheme, used for a `transport` URL before any package is imported:
   * `{ redis: createTransport }` (from `@missive/redis`). Without one, `<scheme>://` loads the
   * package `@missive/<scheme>` (see `transportPackage`).
   */
  readonly transports?: TransportFactories;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly codec?: Codec;
  /** Retry policy of endpoints that set none. Default: {@link defaultRetryOptions}. */
  readonly retry?: RetryOptions;
  /** Middleware of every endpoint (consume) and of every outgoing message (publish). */
  readonly middleware?: { readonly consume?: readonly Middleware<ConsumeContext>[]; readonly publish?: readonly PublishMiddleware[] };
  /** How long `stop` lets in-flight handlers run, ms. Default 10 s. */
  readonly stopTimeoutMs?: number;
  /** Default `request` timeout, ms. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Validate outgoing payloads against their schema (a bad payload throws at the caller). Default true. */
  readonly validateOutgoing?: boolean;
  /** This process's id, part of its reply queue's name. Default: a random id. */
  readonly instanceId?: string;
  /**
   * Publish a fault event (`missive.fault.<type>`, see `faultOf`) for every message this bus
   * dead-letters, so another service can alert or compensate. Default false.
   */
  readonly faultEvents?: boolean;
}

/** Options of {@link Bus.schedule}. */
export interface ScheduleOptions {
  /** When to deliver. One of `at` and `delayMs` is required. */
  readonly at?: Date | number;
  readonly delayMs?: number;
  /** For commands: send straight to this queue. */
  readonly to?: string;
  readonly partitionKey?: string;
  readonly correlationId?: string;
}

/** The bus's events. */
export interface BusEvents {
  circuit: { readonly endpoint: string; readonly state: CircuitState; readonly previous: CircuitState };
  'dead-lettered': { readonly endpoint: string; readonly messageId: string; readonly type: string; readonly reason: string; readonly error: Error };
  retry: RetryEvent;
  expired: { readonly endpoint: string; readonly messageId: string; readonly type: string; readonly action: ExpiredAction };
  /**
   * An endpoint's consumer failed (its transport's delivery stream broke) and the endpoint consumes
   * no more; {@link Bus.ready} is false from then on. One message never causes this. With no
   * listener, the bus logs it as an error and sets `process.exitCode` to 1, so a service with
   * nothing else to do exits non-zero instead of stopping silently; a listener decides instead
   * (stop the bus and exit, alert, ...).
   */
  'consumer-failed': { readonly endpoint: string; readonly error: Error };
  /** A delivery was settled: handled, retried later, dead-lettered or dropped, with its duration (a journal's feed). */
  handled: HandledEvent;
}

/**
 * Something that runs alongside the bus (an outbox relay): started after the endpoints, stopped
 * after they drained and before the transport closes.
 */
export interface BusComponent {
  start(transport: Transport): Promise<void>;
  stop(): Promise<void>;
}

/** What a bus is, for a service catalog: see {@link Bus.describe}. */
export interface BusDescription {
  readonly service: string;
  readonly instanceId: string;
  readonly host: string;
  readonly endpoints: readonly {
    readonly name: string;
    /** The topic patterns its queue is bound to. */
    readonly topics: readonly string[];
    /** The contracts its handlers and responders take. */
    readonly handles: readonly AnyContract[];
  }[];
  /** The contracts this bus has sent or published since it was created. */
  readonly sends: readonly AnyContract[];
}

/** A snapshot of the bus's counters. */
export interface BusStats {
  readonly endpoints: Readonly<Record<string, Readonly<EndpointStats>>>;
  readonly pendingRequests: number;
}

interface PendingRequest {
  readonly query: QueryContract;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
  readonly cleanup: () => void;
}

type State = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The bus. Create it with {@link createBus}. */
export class Bus implements Sender {
  readonly service: string;
  readonly instanceId: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly codec: Codec;
  private readonly emitter: TypedEmitter<BusEvents>;
  private readonly transportSpec: URL | Transport;
  private readonly transports: TransportFactories;
  private transport_: Transport | undefined;
  private readonly definitions: EndpointDefinition[] = [];
  private readonly runtimes: EndpointRuntime[] = [];
  private readonly defaultRetry: RetryOptions;
  private readonly consumeMiddleware: readonly Middleware<ConsumeContext>[];
  private readonly outgoing: ((ctx: PublishContext) => Promise<void>) | undefined;
  private readonly stopTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly validateOutgoing: boolean;
  private readonly host = hostname();
  private readonly source: string;
  private readonly timestamps = new Timestamps();
  /** Lets the event loop turn at least every 10 ms while sends complete without I/O. */
  private readonly turns = new LoopTurns(10);
  private readonly pending = new Map<string, PendingRequest>();
  /** Sends under way; `stop` waits for them before it closes the transport. */
  private readonly sending = new InFlightList<Promise<void>>();
  private replyQueue: Promise<string> | undefined;
  private replyConsumer: Consumer | undefined;
  private replyLoop: Promise<void> | undefined;
  private state: State = 'new';
  private readonly internals: BusInternals;
  private readonly components: BusComponent[] = [];
  private readonly outboxes = new Map<MessageStore<never>, Outbox<never>>();
  private readonly tracing = new MessageTracing();
  private readonly meters: BusMetrics;
  private readonly faultContracts: Map<string, EventContract> | undefined;
  /** The contracts sent so far, by name (see {@link Bus.describe}). */
  private readonly sentContracts = new Map<string, AnyContract>();
  /** The last outbox message relayed: when, and how long after its commit. */
  private lastRelay: { readonly at: number; readonly lagMs: number } | undefined;

  constructor(options: BusOptions) {
    if (options === null || typeof options !== 'object') throw new ConfigurationError('createBus needs an options object: { service, transport }');
    if (typeof options.service !== 'string' || !SERVICE_NAME.test(options.service)) {
      throw new ConfigurationError(`service name ${JSON.stringify(options.service)} is not valid: use letters, digits, ".", "-", "_" (at most 100)`);
    }
    this.service = options.service;
    this.instanceId = options.instanceId ?? randomUUID().slice(0, 8);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger('warn');
    this.codec = options.codec ?? jsonCodec();
    this.emitter = new TypedEmitter(this.logger);
    this.source = sourceOf(this.service);
    this.meters = new BusMetrics();
    this.faultContracts = options.faultEvents === true ? new Map() : undefined;
    this.transports = checkTransportFactories(options.transports);
    if (typeof options.transport === 'string' || options.transport instanceof URL) {
      this.transportSpec = parseTransportUrl(options.transport);
    } else if (options.transport !== null && typeof options.transport === 'object' && typeof options.transport.consume === 'function') {
      this.transportSpec = options.transport;
    } else {
      throw new ConfigurationError('transport must be a URL (memory://, sqlite://path, amqp://host ...) or a Transport instance');
    }
    this.defaultRetry = options.retry ?? defaultRetryOptions;
    retryPolicy(this.defaultRetry);
    this.consumeMiddleware = options.middleware?.consume ?? [];
    const publishMiddleware = options.middleware?.publish ?? [];
    this.outgoing = publishMiddleware.length === 0 ? undefined : compose(publishMiddleware, (ctx) => this.deliver(ctx));
    this.stopTimeoutMs = nonNegative(options.stopTimeoutMs ?? 10_000, 'stopTimeoutMs');
    this.requestTimeoutMs = nonNegative(options.requestTimeoutMs ?? 30_000, 'requestTimeoutMs');
    this.validateOutgoing = options.validateOutgoing ?? true;
    this.internals = this.makeInternals();
  }

  /** The connected transport. Throws before `start`. */
  get transport(): Transport {
    if (this.transport_ === undefined) throw new BusStateError(ErrorCode.NotStarted, `bus ${this.service} is not started: call bus.start() first`);
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
      outbox = createOutbox(this, store, options);
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
    if (options?.store === undefined) throw new ConfigurationError(`saga ${definition?.name}: options.store is required (MemoryMessageStore, SqliteMessageStore ...)`);
    installSaga(this, definition, this.outbox(options.store, options.outbox), options);
    return this;
  }

  /** Adds a component that starts and stops with the bus. Call before `start`. */
  attach(component: BusComponent): this {
    if (this.state !== 'new') throw new ConfigurationError('components must be attached before bus.start()');
    this.components.push(component);
    return this;
  }

  /** The bus's logger and clock, for components. */
  get environment(): { readonly logger: Logger; readonly clock: Clock; readonly codec: Codec } {
    return { logger: this.logger, clock: this.clock, codec: this.codec };
  }

  /** Listens to a bus event; returns a function that stops listening. */
  on<K extends keyof BusEvents>(event: K, listener: (payload: BusEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Connects the transport, declares every endpoint's queue and starts consuming. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new BusStateError(ErrorCode.Closed, `bus ${this.service} was already started`);
    this.state = 'starting';
    try {
      checkOwnersInProcess(this.definitions);
      const transport =
        this.transportSpec instanceof URL ? await loadTransport(this.transportSpec, { clock: this.clock, logger: this.logger }, this.transports) : this.transportSpec;
      await transport.connect();
      this.transport_ = transport;
      if (transport.commandOwners === undefined && this.definitions.some((d) => d.commands.length > 0)) {
        this.logger.warn(`the ${transport.kind} transport cannot record command owners: only this bus's endpoints are checked for a second handler of a command`);
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

  private consumerFailed(event: { readonly endpoint: string; readonly error: Error }): void {
    this.logger.error({ endpoint: event.endpoint, err: event.error }, 'consumer failed; the endpoint consumes no more messages');
    if (this.emitter.has('consumer-failed')) {
      this.emitter.emit('consumer-failed', event);
      return;
    }
    if (!process.exitCode) process.exitCode = 1;
  }

  /** Counters per endpoint. */
  stats(): BusStats {
    const endpoints: Record<string, EndpointStats> = {};
    for (const runtime of this.runtimes) endpoints[runtime.definition.name] = { ...runtime.stats };
    return { endpoints, pendingRequests: this.pending.size };
  }

  /**
   * Liveness and readiness with their reasons: transport connected, each endpoint's consumer
   * running and ready, circuits, last handler errors, outbox relay lag. See `serveHealth`.
   */
  health(): HealthReport {
    const transport = this.transport_;
    const active = this.state === 'started' || this.state === 'stopping';
    const status = transport === undefined || !active ? { connected: false, reason: `the bus is ${this.state}` } : (transport.status?.() ?? { connected: true });
    const endpoints: Record<string, EndpointHealth> = {};
    for (const runtime of this.runtimes) endpoints[runtime.definition.name] = runtime.health();
    const outbox = this.lastRelay === undefined ? undefined : { lastRelayAt: new Date(this.lastRelay.at).toISOString(), lastRelayLagMs: this.lastRelay.lagMs };
    return healthReport(this.state, status, endpoints, outbox);
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
    const endpoints = this.definitions.map((d) => ({
      name: d.name,
      topics: [...d.topics],
      handles: [...d.routes.values()].flatMap((r) => (r.contract === undefined ? [] : [r.contract])),
    }));
    return { service: this.service, instanceId: this.instanceId, host: this.host, endpoints, sends: [...this.sentContracts.values()] };
  }

  /** The dead-letter queues of this bus's transport: list, inspect, replay, purge. */
  get deadLetters(): DeadLetterQueue {
    return new DeadLetterQueue(this.transport, this.clock);
  }

  publish<C extends EventContract>(contract: C, payload: PayloadInput<C>, options?: PublishOptions): Promise<void> {
    return this.publishFrom(undefined, contract, payload, options);
  }

  send<C extends CommandContract>(contract: C, payload: PayloadInput<C>, options?: SendOptions): Promise<void> {
    return this.sendFrom(undefined, contract, payload, options);
  }

  request<Q extends QueryContract>(query: Q, payload: PayloadInput<Q>, options?: RequestOptions): Promise<Reply<Q>> {
    return this.requestFrom(undefined, query, payload, options);
  }

  /**
   * Schedules an event or command for later; returns an id that {@link Bus.cancel} takes.
   * @example
   * ```ts
   * const id = await bus.schedule(PaymentTimeout, { orderId }, { delayMs: 15 * 60_000 });
   * await bus.cancel(id);
   * ```
   */
  async schedule<C extends EventContract | CommandContract>(contract: C, payload: PayloadInput<C>, options: ScheduleOptions): Promise<string> {
    const notBefore = dueTime(this.clock, options.at, options.delayMs);
    if (notBefore === undefined) throw new ConfigurationError(`schedule ${contract.name}: give "at" or "delayMs"`);
    const scheduleId = randomUUID();
    await this.dispatch(undefined, contract, contract.kind, payload, { ...options, at: notBefore }, options.to, scheduleId);
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

  // --- sending ------------------------------------------------------------------------------

  private publishFrom(parent: Envelope | undefined, contract: EventContract, payload: unknown, options?: PublishOptions): Promise<void> {
    if (contract?.kind !== 'event') return Promise.reject(new ConfigurationError(`publish takes an event contract; ${describe(contract)} is not one (use send for commands)`));
    return this.dispatch(parent, contract, 'event', payload, options, undefined, undefined);
  }

  private sendFrom(parent: Envelope | undefined, contract: CommandContract, payload: unknown, options?: SendOptions): Promise<void> {
    if (contract?.kind !== 'command') return Promise.reject(new ConfigurationError(`send takes a command contract; ${describe(contract)} is not one`));
    return this.dispatch(parent, contract, 'command', payload, options, options?.to, undefined);
  }

  private async requestFrom(parent: Envelope | undefined, query: QueryContract, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (query?.kind !== 'query') throw new ConfigurationError(`request takes a query contract; ${describe(query)} is not one`);
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const replyTo = await this.ensureReplyQueue();
    const id = randomUUID();
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => {
        this.settleRequest(id)?.reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('request aborted'));
      };
      const timer = this.clock.setTimeout(() => this.settleRequest(id)?.reject(new RequestTimeoutError(query.name, timeoutMs)), timeoutMs);
      const cleanup = () => options.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { query, resolve, reject, timer, cleanup });
      if (options.signal?.aborted === true) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.dispatch(parent, query, 'query', payload, { ...options, messageId: id, expiresInMs: timeoutMs }, options.to, undefined, replyTo).catch(
        (error: unknown) => this.settleRequest(id)?.reject(error as Error),
      );
    });
  }

  private settleRequest(id: string): PendingRequest | undefined {
    const pending = this.pending.get(id);
    if (pending === undefined) return undefined;
    this.pending.delete(id);
    this.clock.clearTimeout(pending.timer);
    pending.cleanup();
    return pending;
  }

  /** Builds, validates, encodes and hands one message to the transport. */
  private async dispatch(
    parent: Envelope | undefined,
    contract: AnyContract,
    kind: MessageKind,
    payload: unknown,
    options: (PublishOptions & { readonly to?: string | undefined }) | undefined,
    to: string | undefined,
    scheduleId: string | undefined,
    replyTo?: string,
  ): Promise<void> {
    if (this.state !== 'started' && this.state !== 'stopping') {
      throw new BusStateError(this.state === 'stopped' ? ErrorCode.Closed : ErrorCode.NotStarted, `bus ${this.service} is ${this.state === 'stopped' ? 'stopped' : 'not started'}: cannot send ${contract.name}`);
    }
    if (!this.sentContracts.has(contract.name)) this.sentContracts.set(contract.name, contract);
    let data = payload;
    if (this.validateOutgoing) {
      const result = validate(contract.schema, contract.name, payload);
      data = result instanceof Promise ? await result : result;
    }
    const notBefore = dueTime(this.clock, options?.at, options?.delayMs);
    const producer = this.tracing.startProducer(kind === 'event' ? 'publish' : 'send', to ?? contract.name, parent);
    let sent: Promise<void>;
    try {
      const envelope = this.envelopeFor(parent, contract, kind, payload, data, options, replyTo, producer);
      this.tracing.message(producer.span, envelope);
      if (this.outgoing === undefined) {
        sent = this.enqueue(envelope, to === undefined ? 'topic' : 'queue', to ?? contract.name, notBefore, scheduleId);
      } else {
        sent = this.outgoing({
          envelope,
          destination: to === undefined ? { kind: 'topic', name: contract.name } : { kind: 'queue', name: to },
          notBefore,
          items: scheduleId === undefined ? EMPTY_ITEMS : new Map([[SCHEDULE_ID, scheduleId]]),
        });
      }
    } catch (error) {
      this.sent(producer, error);
      throw error;
    }
    this.sending.add(sent);
    try {
      await sent;
      this.sent(producer);
    } catch (error) {
      this.sent(producer, error);
      throw error;
    } finally {
      this.sending.remove(sent);
    }
    const turn = this.turns.due();
    if (turn !== undefined) await turn;
  }

  private envelopeFor(
    parent: Envelope | undefined,
    contract: AnyContract,
    kind: MessageKind,
    payload: unknown,
    validated: unknown,
    options: PublishOptions | undefined,
    replyTo: string | undefined,
    producer: ProducerSpan,
  ): Envelope {
    const partitionKey = options?.partitionKey ?? (contract.partitionKey === undefined ? undefined : contract.partitionKey(validated));
    const now = this.clock.now();
    return createEnvelope({
      type: contract.name,
      source: this.source,
      data: payload,
      kind,
      version: contract.version,
      id: options?.messageId,
      time: this.timestamps.format(now),
      correlationId: options?.correlationId ?? parent?.correlationid,
      conversationId: parent?.conversationid,
      causationId: parent?.id,
      traceparent: producer.traceparent,
      tracestate: producer.tracestate,
      partitionKey,
      replyTo,
      expiresAt: options?.expiresInMs === undefined ? undefined : now + options.expiresInMs,
      subject: options?.subject,
    });
  }

  /**
   * Builds an outgoing message synchronously, for the outbox: validated (synchronous schemas
   * only), encoded, with its destination. Nothing is sent.
   */
  prepare(
    parent: Envelope | undefined,
    contract: EventContract | CommandContract,
    payload: unknown,
    options: (SendOptions & { readonly scheduleId?: string }) | undefined,
  ): OutboxRecord {
    if (contract?.kind !== 'event' && contract?.kind !== 'command') {
      throw new ConfigurationError(`the outbox takes event and command contracts; ${describe(contract)} is neither`);
    }
    let data = payload;
    if (this.validateOutgoing) {
      const result = validate(contract.schema, contract.name, payload);
      if (result instanceof Promise) {
        result.catch(() => undefined);
        throw new ConfigurationError(`${contract.name} has an asynchronous schema; outbox messages are built inside a synchronous transaction`);
      }
      data = result;
    }
    const to = contract.kind === 'command' ? options?.to : undefined;
    const producer = this.tracing.startProducer('create', to ?? contract.name, parent);
    const envelope = this.envelopeFor(parent, contract, contract.kind, payload, data, options, undefined, producer);
    this.tracing.message(producer.span, envelope);
    this.tracing.end(producer.span);
    return {
      id: envelope.id,
      destination: to === undefined ? { kind: 'topic', name: contract.name, mandatory: contract.kind === 'command' } : { kind: 'queue', name: to, mandatory: true },
      message: { id: envelope.id, type: envelope.type, body: this.codec.encode(envelope), headers: EMPTY_HEADERS, partitionKey: envelope.partitionkey },
      notBefore: dueTime(this.clock, options?.at, options?.delayMs),
      scheduleId: options?.scheduleId,
      createdAt: this.clock.now(),
    };
  }

  /**
   * Hands an outbox message to the transport. Resolves when the broker has it durably. Publish
   * middleware sees it (decoded) on the way; the bytes sent are the ones committed.
   */
  async dispatchPrepared(record: OutboxRecord): Promise<void> {
    const envelope = this.codec.decode(record.message.body);
    if (this.outgoing === undefined) return this.sendPrepared(record, envelope);
    const ctx: PublishContext = {
      envelope,
      destination: { kind: record.destination.kind, name: record.destination.name },
      notBefore: record.notBefore,
      items: new Map<unknown, unknown>([[PREPARED, record]]),
    };
    await this.outgoing(ctx);
  }

  /** Sends an outbox message in a producer span that continues the trace of its `create` span. */
  private async sendPrepared(record: OutboxRecord, envelope: Envelope): Promise<void> {
    const transport = this.transport;
    const options = record.notBefore === undefined ? undefined : { notBefore: record.notBefore, scheduleId: record.scheduleId };
    const created = spanContextOf(envelope.traceparent, envelope.tracestate);
    const producer = this.tracing.startProducer(
      envelope.messagekind === 'event' ? 'publish' : 'send',
      record.destination.name,
      envelope,
      created === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, created),
    );
    this.tracing.message(producer.span, envelope);
    try {
      if (record.destination.kind === 'queue') await transport.send(record.destination.name, record.message, options);
      else await transport.publish(record.destination.name, record.message, record.destination.mandatory ? { ...options, mandatory: true } : options);
      this.sent(producer);
      this.meters.relayed(this.clock.now() - record.createdAt);
      this.lastRelay = { at: this.clock.now(), lagMs: this.clock.now() - record.createdAt };
    } catch (error) {
      this.sent(producer, error);
      throw error;
    }
  }

  /** Ends a producer span and counts the send (`error` when it failed). */
  private sent(producer: ProducerSpan, error?: unknown): void {
    const failure = error === undefined ? undefined : toError(error);
    this.tracing.end(producer.span, failure);
    this.meters.sent(producer, failure);
  }

  /** The last publish step: encode and hand to the transport. */
  private async deliver(ctx: PublishContext): Promise<void> {
    const prepared = ctx.items.get(PREPARED) as OutboxRecord | undefined;
    if (prepared !== undefined) return this.sendPrepared(prepared, ctx.envelope);
    await this.enqueue(ctx.envelope, ctx.destination.kind, ctx.destination.name, ctx.notBefore, ctx.items.get(SCHEDULE_ID) as string | undefined);
  }

  /** Encodes the envelope and hands it to the transport. Throws (rather than rejects) what it refuses. */
  private enqueue(envelope: Envelope, kind: 'topic' | 'queue', name: string, notBefore: number | undefined, scheduleId: string | undefined): Promise<void> {
    const message: TransportMessage = {
      id: envelope.id,
      type: envelope.type,
      body: this.codec.encode(envelope),
      headers: EMPTY_HEADERS,
      partitionKey: envelope.partitionkey,
    };
    const transport = this.transport;
    if (notBefore !== undefined && !transport.capabilities.delayedDelivery) {
      throw new ConfigurationError(`the ${transport.kind} transport has no delayed delivery; ${envelope.type} cannot be scheduled`);
    }
    const options = notBefore === undefined ? undefined : { notBefore, scheduleId };
    if (kind === 'queue') return transport.send(name, message, options);
    const mandatory = envelope.messagekind !== 'event';
    return transport.publish(name, message, mandatory ? { ...options, mandatory } : options);
  }

  // --- request/reply ------------------------------------------------------------------------

  private ensureReplyQueue(): Promise<string> {
    this.replyQueue ??= (async () => {
      const name = `${this.service}.replies.${this.instanceId}`;
      const transport = this.transport;
      await transport.declare({ name, topics: [], temporary: true });
      const consumer = transport.consume(name, { prefetch: 64 });
      this.replyConsumer = consumer;
      this.replyLoop = this.consumeReplies(consumer);
      return name;
    })();
    return this.replyQueue;
  }

  private async consumeReplies(consumer: Consumer): Promise<void> {
    try {
      for await (const delivery of consumer) {
        try {
          const envelope = this.codec.decode(delivery.message.body);
          const id = envelope.causationid;
          const pending = id === undefined ? undefined : this.settleRequest(id);
          if (pending === undefined) {
            this.logger.debug({ type: envelope.type }, 'reply for no pending request (it timed out or was aborted): dropped');
          } else if (envelope.replystatus === 'error') {
            const remote = (envelope.data ?? {}) as { name?: string; message?: string };
            pending.reject(new RemoteHandlerError(pending.query.name, String(remote.name ?? 'Error'), String(remote.message ?? '')));
          } else {
            try {
              const result = validate(pending.query.reply, replyTypeOf(pending.query), envelope.data);
              pending.resolve(result instanceof Promise ? await result : result);
            } catch (error) {
              pending.reject(error as Error);
            }
          }
        } catch (error) {
          this.logger.warn({ err: error }, 'an unreadable reply was dropped');
        }
        await delivery.ack();
      }
    } catch (error) {
      if (this.state === 'started') this.logger.error({ err: error }, 'the reply consumer failed');
    }
  }

  // --- shutdown -----------------------------------------------------------------------------

  private async shutdown(deadlineMs: number): Promise<void> {
    this.meters.stop();
    await Promise.all(this.runtimes.map((r) => r.stop(deadlineMs)));
    for (const id of [...this.pending.keys()]) {
      this.settleRequest(id)?.reject(new BusStateError(ErrorCode.Closed, `bus ${this.service} stopped before the reply came`));
    }
    await this.replyConsumer?.close();
    await this.replyLoop;
    await Promise.allSettled(this.sending.toArray());
    for (const component of [...this.components].reverse()) {
      await component.stop().catch((error: unknown) => this.logger.error({ err: error }, 'a bus component failed to stop'));
    }
    await this.transport_?.close();
  }

  private makeInternals(): BusInternals {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const bus = this;
    return {
      service: this.service,
      host: this.host,
      codec: this.codec,
      clock: this.clock,
      logger: this.logger,
      tracing: this.tracing,
      metrics: this.meters,
      get transport() {
        return bus.transport;
      },
      middleware: this.consumeMiddleware,
      publishFrom: (parent, contract, payload, options) => this.publishFrom(parent, contract, payload, options),
      sendFrom: (parent, contract, payload, options) => this.sendFrom(parent, contract, payload, options),
      requestFrom: (parent, query, payload, options) => this.requestFrom(parent, query, payload, options),
      replyTo: (request, query, payload, status) => this.sendReply(request, query, payload, status),
      onRetry: (event) => this.emitter.emit('retry', event),
      onDeadLettered: (event) => this.emitter.emit('dead-lettered', event),
      onExpired: (event) => this.emitter.emit('expired', event),
      onCircuit: (event) => this.emitter.emit('circuit', event),
      observesHandled: () => this.emitter.has('handled'),
      onHandled: (event) => this.emitter.emit('handled', event),
      publishFault: this.faultContracts === undefined ? undefined : (parent, fault) => this.publishFault(parent, fault),
      onConsumerFailed: (event) => this.consumerFailed(event),
    };
  }

  /** Publishes the fault event of a dead letter, in its conversation and trace. Faults of faults are not published. */
  private async publishFault(parent: Envelope | undefined, fault: Fault): Promise<void> {
    if (this.faultContracts === undefined || fault.messageType.startsWith('missive.fault.')) return;
    let contract = this.faultContracts.get(fault.messageType);
    if (contract === undefined) {
      contract = faultContractOf(fault.messageType);
      this.faultContracts.set(fault.messageType, contract);
    }
    await this.dispatch(parent, contract, 'event', fault, undefined, undefined, undefined);
  }

  private async sendReply(request: Envelope, query: QueryContract | undefined, payload: unknown, status: 'ok' | 'error'): Promise<void> {
    if (request.replyto === undefined) return;
    if (status === 'ok' && query !== undefined && this.validateOutgoing) {
      const result = validate(query.reply, replyTypeOf(query), payload);
      if (result instanceof Promise) await result;
    }
    const producer = this.tracing.startProducer('send', request.replyto, request);
    const envelope = createEnvelope({
      type: replyTypeOf(request.type),
      source: this.source,
      data: payload,
      kind: 'reply',
      version: 1,
      time: this.timestamps.format(this.clock.now()),
      correlationId: request.correlationid,
      conversationId: request.conversationid,
      causationId: request.id,
      traceparent: producer.traceparent,
      tracestate: producer.tracestate,
      replyStatus: status,
    });
    this.tracing.message(producer.span, envelope);
    try {
      await this.transport.send(request.replyto, { id: envelope.id, type: envelope.type, body: this.codec.encode(envelope), headers: EMPTY_HEADERS });
      this.sent(producer);
    } catch (error) {
      this.sent(producer, error);
      if (error instanceof UnroutableError) {
        this.logger.debug({ type: envelope.type }, 'the requester is gone; reply dropped');
        return;
      }
      throw error;
    }
  }
}

const SCHEDULE_ID = Symbol('scheduleId');
const PREPARED = Symbol('prepared');
const EMPTY_ITEMS = new Map<unknown, unknown>();

function describe(contract: unknown): string {
  const c = contract as { kind?: unknown; name?: unknown } | undefined;
  return c !== null && typeof c === 'object' ? `${String(c.kind)} ${String(c.name)}` : String(contract);
}

function nonNegative(value: number, what: string): number {
  if (typeof value !== 'number' || !(value >= 0)) throw new ConfigurationError(`${what} must be a number of 0 or more, got ${String(value)}`);
  return value;
}

function dueTime(clock: Clock, at: Date | number | undefined, delayMs: number | undefined): number | undefined {
  if (at !== undefined) {
    const t = at instanceof Date ? at.getTime() : at;
    if (!Number.isFinite(t)) throw new ConfigurationError(`"at" is not a valid time: ${String(at)}`);
    return t;
  }
  if (delayMs !== undefined) {
    if (!(delayMs >= 0)) throw new ConfigurationError(`delayMs must be 0 or more, got ${String(delayMs)}`);
    return delayMs === 0 ? undefined : clock.now() + delayMs;
  }
  return undefined;
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
