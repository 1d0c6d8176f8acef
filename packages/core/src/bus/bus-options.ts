/**
 * What a bus is configured with and what it reports: {@link BusOptions} (what `createBus` takes),
 * {@link ScheduleOptions}, the events `bus.on` listens to ({@link BusEvents}) and the counters of
 * `bus.stats()` ({@link BusStats}).
 *
 * @example
 * ```ts
 * const options: BusOptions = { service: 'billing', transport: 'sqlite://.missive/bus.db', stopTimeoutMs: 5_000 };
 * const bus = createBus(options);
 * bus.on('dead-lettered', ({ endpoint, messageId, reason }) => alert(endpoint, messageId, reason));
 * ```
 * @module
 */
import type { HandledEvent } from '../observe/handled.js';
import type { AnyContract } from '../contracts/contract.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Codec } from '../message/codec.js';
import type { CircuitState } from '../policies/circuit-breaker.js';
import type { RetryOptions } from '../policies/retry-policy.js';
import type { ConsumeContext } from '../consume/context.js';
import type { ExpiredAction } from '../consume/endpoint.js';
import type { Middleware } from '../consume/pipeline.js';
import type { RetryEvent } from '../consume/steps/retry.js';
import type { Transport } from '../transport/transport.js';
import { parseTransportUrl, type TransportFactories } from '../transport/transport-url.js';
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../known-keys.js';
import type { PublishMiddleware } from './publish-context.js';

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
  'dead-lettered': {
    readonly endpoint: string;
    readonly messageId: string;
    readonly type: string;
    readonly reason: string;
    readonly error: Error;
  };
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

/** What a bus is, for a service catalog: see `Bus.describe`. */
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

/** Counters of one endpoint. */
export interface EndpointStats {
  /** Messages handled successfully (acked after the handler). */
  handled: number;
  /** Handler invocations that threw. */
  failed: number;
  /** Immediate retries. */
  retried: number;
  /** Delayed redeliveries asked for. */
  redelivered: number;
  deadLettered: number;
  expired: number;
  /** Deliveries being handled now. */
  inFlight: number;
  circuit: CircuitState;
}

/** A snapshot of the bus's counters. */
export interface BusStats {
  readonly endpoints: Readonly<Record<string, Readonly<EndpointStats>>>;
  readonly pendingRequests: number;
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The service name of `options`, checked (and `options` checked to be an object). */
export function serviceOf(options: BusOptions): string {
  if (options === null || typeof options !== 'object')
    throw new ConfigurationError('createBus needs an options object: { service, transport }');
  if (typeof options.service !== 'string' || !SERVICE_NAME.test(options.service)) {
    throw new ConfigurationError(
      `service name ${JSON.stringify(options.service)} is not valid: use letters, digits, ".", "-", "_" (at most 100)`,
    );
  }
  return options.service;
}

/** Refuses a key of `options` (or of its `middleware`) that {@link BusOptions} does not have: a misspelt option. */
export function checkBusOptionKeys(options: BusOptions): void {
  checkKnownKeys('createBus', options, {
    service: true,
    transport: true,
    transports: true,
    clock: true,
    logger: true,
    codec: true,
    retry: true,
    middleware: true,
    stopTimeoutMs: true,
    requestTimeoutMs: true,
    validateOutgoing: true,
    instanceId: true,
    faultEvents: true,
  });
  checkKnownKeys('createBus middleware', options.middleware, { consume: true, publish: true });
}

/** The transport option checked: a parsed URL (its package is loaded at `start`) or a transport instance. */
export function transportSpecOf(transport: BusOptions['transport']): URL | Transport {
  if (typeof transport === 'string' || transport instanceof URL) return parseTransportUrl(transport);
  if (transport !== null && typeof transport === 'object' && typeof transport.consume === 'function') return transport;
  throw new ConfigurationError('transport must be a URL (memory://, sqlite://path, amqp://host ...) or a Transport instance');
}

/** `value` if it is a number of 0 or more; else a `ConfigurationError` naming `what`. */
export function nonNegative(value: number, what: string): number {
  if (typeof value !== 'number' || !(value >= 0))
    throw new ConfigurationError(`${what} must be a number of 0 or more, got ${String(value)}`);
  return value;
}
