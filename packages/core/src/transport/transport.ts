/**
 * The boundary between the bus and a broker. A transport moves opaque message bodies between
 * named queues and topics and keeps the delivery promises written on each method below; the
 * bus does everything else (encoding, validation, retries, dead-letter decisions, ordering
 * locks, request/reply) the same way on every transport.
 *
 * Every transport package passes the conformance suite in `@missive/testing`.
 *
 * @example
 * ```ts
 * const transport: Transport = new MemoryBroker().transport();
 * await transport.connect();
 * await transport.declare({ name: 'billing', topics: ['shop.order-placed'] });
 * await transport.publish('shop.order-placed', message);
 * const consumer = transport.consume('billing', { prefetch: 10 });
 * for await (const delivery of consumer) await delivery.ack();
 * ```
 * @module
 */
import type { Clock } from '../clock.js';
import type { CommandOwnership } from './command-owners.js';
import type { Logger } from '../logger.js';

/** What a transport carries. The transport never changes `body`; `headers` change only as stated on {@link Delivery}. */
export interface TransportMessage {
  /** Unique id of the message (the envelope's id). Stable across redeliveries and dead-lettering. */
  readonly id: string;
  /** The message type (the contract's name). Transports may store or show it; routing never depends on it. */
  readonly type: string;
  /** The encoded envelope. Opaque to the transport. */
  readonly body: Uint8Array;
  /**
   * Delivery metadata that may differ between deliveries of the same message (attempt counters,
   * replay marks). Names are lower-case; values are strings. See `Header` for the names the bus uses.
   */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Ordering key. On a transport with {@link TransportCapabilities.orderingKeys}, messages of one
   * queue that share a key are handed out one at a time, in the order they were enqueued.
   */
  readonly partitionKey?: string | undefined;
}

/** Options of {@link Transport.publish} and {@link Transport.send}. */
export interface EnqueueOptions {
  /**
   * Epoch milliseconds before which the message is not delivered. A scheduled message enters its
   * queue's order (for ordering keys) when it becomes due, not when it was published.
   */
  readonly notBefore?: number | undefined;
  /**
   * An id under which a delayed message can be cancelled with {@link Transport.cancelScheduled}
   * until it becomes due. Only meaningful with `notBefore`.
   */
  readonly scheduleId?: string | undefined;
  /** With `publish`: reject with `UnroutableError` when no queue is bound to the topic. */
  readonly mandatory?: boolean | undefined;
}

/** A queue and the topics it receives. */
export interface QueueSpec {
  /** Queue name: letters, digits, `.`, `-`, `_`, `:`. */
  readonly name: string;
  /**
   * Topic patterns bound to the queue: dot-separated words, `*` matches exactly one word, `#`
   * matches zero or more words (AMQP topic semantics).
   */
  readonly topics: readonly string[];
  /**
   * A temporary queue belongs to the connection that declared it: it is not durable, and it is
   * deleted with its messages when that connection closes (reply queues use this).
   */
  readonly temporary?: boolean | undefined;
  /**
   * The queue's consumers rely on per-key order ({@link TransportCapabilities.orderingKeys}). A
   * transport that orders every queue ignores it; one that needs to set something up for it (RabbitMQ
   * partition queues) does so only for ordered queues. Once declared ordered, a queue stays ordered.
   */
  readonly ordered?: boolean | undefined;
}

/** Options of {@link Transport.consume}. */
export interface ConsumeOptions {
  /** The most deliveries this consumer holds un-settled at once. At least 1. */
  readonly prefetch: number;
}

/** What went wrong with a dead-lettered message. Written by the bus, stored as-is by the transport. */
export interface DeadLetterFailure {
  /** Why: an `ErrorCode` value (`VALIDATION`, `UNKNOWN_MESSAGE_TYPE`, `HANDLER_FAILED`, ...). */
  readonly reason: string;
  readonly errorName: string;
  readonly errorMessage: string;
  readonly stack?: string | undefined;
  /** Handler invocations made for the message before it was dead-lettered. */
  readonly attempts: number;
  readonly endpoint: string;
  readonly service: string;
  readonly host: string;
  /** Epoch milliseconds. */
  readonly time: number;
}

/** One message in a dead-letter queue. */
export interface DeadLetter {
  /** The queue the message failed in (its dead-letter queue belongs to that queue). */
  readonly queue: string;
  /** The message exactly as it was delivered when it failed. */
  readonly message: TransportMessage;
  readonly failure: DeadLetterFailure;
}

/**
 * One received message. Exactly one of `ack`, `nack` or `deadLetter` settles it; later calls
 * are ignored. Until it is settled the message is not handed to any other consumer, except that
 * if this consumer's connection or process is lost, the broker hands it out again.
 */
export interface Delivery {
  readonly message: TransportMessage;
  /** 1 on the first delivery of the message; grows with each redelivery, including after a crash. */
  readonly deliveryCount: number;
  /**
   * Set when the transport could not read the message's metadata (a row or frame that Missive did
   * not write: headers that are not a JSON object of strings, say): the reason, naming what was
   * wrong. The bus dead-letters such a delivery at once with `DECODE` and this reason, and runs no
   * handler. A transport never throws from its iterator because of one message; it sets this.
   */
  readonly unreadable?: string | undefined;
  /** Removes the message from the queue for good. Resolves when the removal is durable. */
  ack(): Promise<void>;
  /**
   * Returns the message to its queue. With `delayMs` it is not delivered again before that time
   * has passed. `headers` replace the message's headers on its next delivery. On a transport with
   * ordering keys the message keeps its place: later messages with the same key wait for it.
   */
  nack(options?: { readonly delayMs?: number; readonly headers?: Readonly<Record<string, string>> }): Promise<void>;
  /**
   * Moves the message, with `failure`, to the dead-letter queue of the queue it came from, in one
   * step: it is never both in the queue and dead-lettered, and never in neither.
   */
  deadLetter(failure: DeadLetterFailure): Promise<void>;
  /**
   * Returns the message to its queue without counting this delivery: the consumer took it but no
   * handler ever started (a stopping endpoint hands back the delivery it held for a free slot), so
   * it must not bring the message closer to `maxDeliveries`. Settles it like `nack`. Optional: where
   * a transport cannot undo the count, the bus calls `nack()`.
   */
  release?(): Promise<void>;
}

/**
 * The deliveries of one queue for one consumer, in the order the transport hands them out.
 * The consumer never holds more than `prefetch` un-settled deliveries: the iterator waits for a
 * settle before it yields more.
 */
export interface Consumer extends AsyncIterable<Delivery> {
  /**
   * Settles once the consumer takes its share of the queue: the broker registered it and, for an
   * ordered queue on a transport that spreads keys over instances, it holds its share of them. The
   * bus waits for it in `start`, so a started service is really consuming. Rejects when the
   * consumer cannot start (the queue is gone, access refused). Absent: ready at once.
   */
  readonly ready?: Promise<void>;
  /**
   * Stops taking deliveries: the iterator ends, and messages the consumer had fetched but not yet
   * yielded go back to the queue. Deliveries already yielded stay valid and can still be settled
   * until the transport closes. Safe to call more than once, and concurrently.
   */
  close(): Promise<void>;
}

/** Optional abilities. What a transport lacks, the bus supplies or refuses with a clear error. */
export interface TransportCapabilities {
  /** `notBefore` on publish/send and `delayMs` on nack are kept by the broker, durably. */
  readonly delayedDelivery: boolean;
  /** A scheduled message can be cancelled by its `scheduleId` until it is due. */
  readonly cancelScheduled: boolean;
  /**
   * Across all consumers of a queue (every process), at most one message per partition key is
   * un-settled at a time, and a key's messages are handed out in enqueue order. Promised for
   * queues declared {@link QueueSpec.ordered}; transports may keep it for every queue.
   */
  readonly orderingKeys: boolean;
  /** Several processes can share the broker (false for the in-process memory transport). */
  readonly multiProcess: boolean;
  /**
   * Consumers receive the very `TransportMessage` objects given to `publish`/`send` (in this
   * process; headers may be replaced through `withHeaders`), so the bus may give an
   * `InProcessMessage`, whose body is encoded only if read. Absent: false.
   */
  readonly inProcess?: boolean;
  /**
   * `publish` and `send` take a `BinaryMessage` (CloudEvents binary content mode): the transport
   * carries its attributes beside its data (in broker headers) and hands a received one back as a
   * `BinaryMessage`, so the bus gives one whenever its codec makes binary forms. Every other message
   * is carried as before, `body` as it is. Absent: false (the bus encodes whole envelopes).
   */
  readonly binaryContent?: boolean;
  /**
   * Deliveries per running handler that an endpoint holds when its `prefetch` is not set (its
   * default prefetch is `concurrency` × this). A transport whose settles free the consumer's window
   * only after a broker commit (RabbitMQ quorum queues: a Raft round trip) asks for more, so that
   * settles on their way do not leave the handlers waiting for deliveries. Absent: 2.
   */
  readonly prefetchPerHandler?: number;
}

/** A queue as an operator sees it. */
export interface QueueInfo {
  readonly name: string;
  /** Messages waiting to be delivered (due now or later). */
  readonly depth: number;
  /** Messages handed out and not yet settled. */
  readonly inFlight: number;
  readonly deadLetters: number;
  readonly topics: readonly string[];
  /** Consumers attached now (every process). Absent where the transport cannot tell. */
  readonly consumers?: number | undefined;
  /**
   * Epoch ms since which the queue has had no consumer (its last consumer left, or it was
   * declared and nobody consumed it yet); absent while it has one, or where the transport cannot tell.
   */
  readonly idleSince?: number | undefined;
}

/** The dead-letter queues of a transport. Ids are message ids; `queue` names the failed message's queue. */
export interface DeadLetterStore {
  /** Dead letters of `queue`, oldest first. */
  list(queue: string, options?: { readonly limit?: number; readonly offset?: number }): Promise<DeadLetter[]>;
  count(queue: string): Promise<number>;
  get(queue: string, id: string): Promise<DeadLetter | undefined>;
  /**
   * Moves the named dead letters back to the end of `queue`, each with its headers replaced by
   * `headers` (the bus resets attempt counters and marks the replay), in one step per message:
   * an interrupted replay leaves every message either dead-lettered or back in the queue.
   * Returns how many were moved; unknown ids are skipped.
   */
  replay(queue: string, ids: readonly string[], headers: Readonly<Record<string, string>>): Promise<number>;
  /** Deletes the named dead letters; returns how many were deleted. */
  purge(queue: string, ids: readonly string[]): Promise<number>;
}

/**
 * A connection to a broker. Topics fan out: a message published to a topic is put in every queue
 * bound to a matching pattern (independent consumers). A queue is point-to-point: each message
 * is handed to one of the queue's consumers at a time (competing consumers).
 *
 * Delivery is at least once: a message leaves its queue only by `ack` or `deadLetter`.
 */
export interface Transport {
  /** Short name of the kind (`memory`, `sqlite`, `rabbitmq`). */
  readonly kind: string;
  readonly capabilities: TransportCapabilities;
  readonly deadLetters: DeadLetterStore;
  /**
   * The broker-wide record of which queue owns each command type (see `command-owners.ts` for its
   * contract). Absent where the transport cannot keep it: the bus then checks ownership only among
   * the endpoints of one bus.
   */
  readonly commandOwners?: CommandOwnership;
  /** Opens the connection. Fails with a `ConfigurationError` naming what to fix when the URL or options are bad. */
  connect(): Promise<void>;
  /**
   * Closes consumers (their un-settled deliveries go back to their queues), deletes this
   * connection's temporary queues, and closes the connection. Idempotent.
   */
  close(): Promise<void>;
  /** Creates the queue if needed and adds its topic bindings. Idempotent; never removes a binding. */
  declare(queue: QueueSpec): Promise<void>;
  /**
   * Puts the message in every queue bound to `topic`. Resolves once the broker holds it durably
   * in all of them; rejects if it may not have. Zero matching queues is success unless `mandatory`.
   */
  publish(topic: string, message: TransportMessage, options?: EnqueueOptions): Promise<void>;
  /**
   * Puts the message in the named queue, which must exist (else `UnroutableError`). Resolves once
   * the broker holds it durably.
   */
  send(queue: string, message: TransportMessage, options?: EnqueueOptions): Promise<void>;
  /** Starts a consumer of a declared queue. See {@link Consumer}. */
  consume(queue: string, options: ConsumeOptions): Consumer;
  /** Cancels a scheduled message that is not yet due. Resolves true if it was found and removed. */
  cancelScheduled(scheduleId: string): Promise<boolean>;
  /** Queues with their depths, for the CLI and dashboard. */
  queues(): Promise<QueueInfo[]>;
  /**
   * Deletes a queue, its messages, its dead letters and its command claims. For tests and
   * operators; unknown names are ignored.
   */
  deleteQueue(name: string): Promise<void>;
  /**
   * Deletes what the transport keeps for a topic outside queues (RabbitMQ: the type's exchange).
   * For tests and operators; unknown names are ignored. Absent where topics leave nothing behind.
   */
  deleteTopic?(topic: string): Promise<void>;
  /**
   * Whether the connection is up now, and if not why (for health checks). Cheap and synchronous.
   * Absent: connected from `connect` until `close`.
   */
  status?(): TransportStatus;
}

/** What {@link Transport.status} reports. */
export interface TransportStatus {
  readonly connected: boolean;
  /** Why not connected (the broker's error), without credentials. */
  readonly reason?: string | undefined;
}

/**
 * What a transport package exports for URL selection: `createBus({ transport: 'sqlite://bus.db' })`
 * imports `@missive/sqlite` and calls its `createTransport`. Nothing is registered globally.
 */
export type TransportFactory = (url: URL, options: TransportFactoryOptions) => Transport;

/** Passed to a {@link TransportFactory}. */
export interface TransportFactoryOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * The caller operates a bus that must already exist (the `missive` CLI): the transport must not
   * create the storage a bus lives in (a database file, its tables) and fails at `connect` with a
   * `ConfigurationError` naming what is missing. Transports whose `connect` creates nothing may ignore it.
   */
  readonly openExisting?: boolean;
}
