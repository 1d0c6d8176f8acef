/**
 * Endpoints: a named queue owned by a service, its handlers, and the machinery that runs them.
 * `bus.endpoint(name, e => ...)` builds the definition; at `bus.start()` the runtime declares the
 * queue with the topics of its handlers and taps, consumes it with the endpoint's prefetch, and runs
 * each delivery through the consume pipeline with at most `concurrency` handlers at once.
 *
 * @example
 * ```ts
 * bus.endpoint('payment', (e) => {
 *   e.on(ChargeCard, chargeCard, { retry: { immediate: 0, delayed: { attempts: 5, initialMs: 500 } } });
 *   e.reply(GetBalance, async (q) => ({ balance: await balanceOf(q.account) }));
 *   e.tap('shop.#', (envelope) => audit(envelope));
 * }, { concurrency: 4, prefetch: 16 });
 * ```
 * @module
 */
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from '../policies/circuit-breaker.js';
import type { AnyContract, CommandContract, EventContract, QueryContract } from '../contracts/contract.js';
import type { ConsumeContext, Handler, Responder, TapHandler } from './context.js';
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../known-keys.js';
import type { Middleware } from './pipeline.js';
import { RateLimiter, type RateLimitOptions } from '../policies/rate-limiter.js';
import { retryPolicy, type RetryOptions, type RetryPolicy } from '../policies/retry-policy.js';
import { checkTopicPattern, topicMatcher } from '../transport/topic-pattern.js';
import type { TransportCapabilities } from '../transport/transport.js';

/** A consume middleware. */
export type ConsumeMiddleware = Middleware<ConsumeContext>;

/** What happens to a message past its expiry. */
export type ExpiredAction = 'drop' | 'dead-letter';

/** Options of an endpoint. */
export interface EndpointOptions {
  /** Handlers running at once. Default 8. */
  readonly concurrency?: number;
  /**
   * Un-settled deliveries the endpoint holds; never below `concurrency`. Default `2 × concurrency`,
   * or what the transport asks for (`capabilities.prefetchPerHandler`: 8 × on RabbitMQ quorum queues).
   */
  readonly prefetch?: number;
  /** The endpoint's retry policy (a handler's own overrides it). Default: the bus's. */
  readonly retry?: RetryOptions;
  /** Opens when too many handler calls fail; `false` (the default) for none. */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** Average handler starts per second, at most. */
  readonly rateLimit?: RateLimitOptions;
  /** What to do with expired messages. Default `dead-letter` (queries are always dropped: their requester gave up). */
  readonly expired?: ExpiredAction;
  /**
   * Deliveries of one message (crashes included) after which it is dead-lettered without running
   * the handler again: the guard against a message that kills its consumer. Default 20.
   */
  readonly maxDeliveries?: number;
  /**
   * Keep per-key order for messages with a partition key. Default: on when a contract the
   * endpoint handles defines `partitionKey`. Transports that order every queue (memory, SQLite)
   * ignore it; RabbitMQ sets up partition queues for an ordered endpoint (see its README).
   */
  readonly ordered?: boolean;
  /**
   * Take the command and query types this endpoint handles from the endpoint that owns them now:
   * a deliberate move. Without it, an endpoint that handles a type another endpoint owns is
   * refused at `bus.start` (a command has one owner). With it, the previous owner is unbound from
   * the type (its queue and waiting messages stay). Remove it once the move is rolled out. Default false.
   */
  readonly takeOver?: boolean;
}

/** Options of one handler. */
export interface HandlerOptions {
  /** Overrides the endpoint's retry policy for this message type. */
  readonly retry?: RetryOptions;
}

/** One handler of an endpoint, resolved from the definition. */
export interface Route {
  readonly kind: 'handler' | 'responder' | 'tap';
  readonly contract: AnyContract | undefined;
  readonly run: (payload: unknown, ctx: never) => unknown;
  readonly retry: RetryPolicy;
}

/** Builds an endpoint's handlers. Every method returns the builder. */
export interface EndpointBuilder {
  /** Handles an event (the endpoint subscribes to its topic) or a command (the endpoint receives it). */
  on<C extends EventContract | CommandContract>(contract: C, handler: Handler<C>, options?: HandlerOptions): EndpointBuilder;
  /** Answers a query. */
  reply<Q extends QueryContract>(query: Q, responder: Responder<Q>, options?: HandlerOptions): EndpointBuilder;
  /** Takes a copy of every message whose type matches a pattern (`*` one word, `#` any words). */
  tap(patterns: string | readonly string[], handler: TapHandler, options?: HandlerOptions): EndpointBuilder;
  /** Adds consume middleware around this endpoint's handlers (after the bus's own). */
  use(...middleware: ConsumeMiddleware[]): EndpointBuilder;
}

/** A checked endpoint definition. */
export interface EndpointDefinition {
  readonly name: string;
  readonly routes: ReadonlyMap<string, Route>;
  readonly taps: readonly { readonly matches: (type: string) => boolean; readonly route: Route }[];
  readonly topics: readonly string[];
  readonly middleware: readonly ConsumeMiddleware[];
  readonly concurrency: number;
  /** Set by the options; undefined: the transport's default (see {@link prefetchOf}). */
  readonly prefetch: number | undefined;
  readonly expired: ExpiredAction;
  readonly maxDeliveries: number;
  readonly circuitBreaker: CircuitBreakerOptions | false;
  readonly rateLimit: RateLimitOptions | undefined;
  /** Whether the endpoint's queue keeps per-key order (see {@link EndpointOptions.ordered}). */
  readonly ordered: boolean;
  /** The command and query types the endpoint handles: it claims their ownership at start. */
  readonly commands: readonly string[];
  /** See {@link EndpointOptions.takeOver}. */
  readonly takeOver: boolean;
}

const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigurationError(`${what} must be a whole number of 1 or more, got ${String(value)}`);
  }
  return value;
}

/** Runs `configure` and checks the result; all faults are `ConfigurationError`s raised here. */
/** The prefetch an endpoint consumes with: its own, or `concurrency` × what the transport asks per handler (2 by default). */
export function prefetchOf(definition: Pick<EndpointDefinition, 'prefetch' | 'concurrency'>, capabilities: TransportCapabilities): number {
  return definition.prefetch ?? definition.concurrency * (capabilities.prefetchPerHandler ?? 2);
}

export function defineEndpoint(
  name: string,
  configure: (e: EndpointBuilder) => void,
  options: EndpointOptions,
  defaultRetry: RetryOptions,
): EndpointDefinition {
  if (typeof name !== 'string' || !ENDPOINT_NAME.test(name)) {
    throw new ConfigurationError(
      `endpoint name ${JSON.stringify(name)} is not valid: use letters, digits, ".", "-", "_", ":" (at most 200)`,
    );
  }
  checkKnownKeys(`endpoint ${name}`, options, {
    concurrency: true,
    prefetch: true,
    retry: true,
    circuitBreaker: true,
    rateLimit: true,
    expired: true,
    maxDeliveries: true,
    ordered: true,
    takeOver: true,
  });
  const concurrency = positiveInt(options.concurrency ?? 8, `endpoint ${name}: concurrency`);
  const prefetch = options.prefetch === undefined ? undefined : positiveInt(options.prefetch, `endpoint ${name}: prefetch`);
  if (prefetch !== undefined && prefetch < concurrency)
    throw new ConfigurationError(`endpoint ${name}: prefetch (${prefetch}) must be at least concurrency (${concurrency})`);
  const maxDeliveries = positiveInt(options.maxDeliveries ?? 20, `endpoint ${name}: maxDeliveries`);
  if (options.takeOver !== undefined && typeof options.takeOver !== 'boolean')
    throw new ConfigurationError(`endpoint ${name}: takeOver must be true or false`);
  const expired = options.expired ?? 'dead-letter';
  if (expired !== 'drop' && expired !== 'dead-letter')
    throw new ConfigurationError(`endpoint ${name}: expired must be "drop" or "dead-letter"`);
  const endpointRetry = options.retry ?? defaultRetry;
  retryPolicy(endpointRetry); // checks it now
  if (options.circuitBreaker !== undefined && options.circuitBreaker !== false)
    new CircuitBreaker(options.circuitBreaker, { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} });
  if (options.rateLimit !== undefined) new RateLimiter(options.rateLimit, { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} });

  const routes = new Map<string, Route>();
  const taps: { matches: (type: string) => boolean; route: Route }[] = [];
  const topics = new Set<string>();
  const middleware: ConsumeMiddleware[] = [];
  const policyOf = (handlerOptions?: HandlerOptions) => {
    checkKnownKeys(`endpoint ${name} handler`, handlerOptions, { retry: true });
    return retryPolicy(handlerOptions?.retry ?? endpointRetry);
  };
  const add = (contract: AnyContract, route: Route) => {
    if (routes.has(contract.name))
      throw new ConfigurationError(`endpoint ${name}: ${contract.name} has two handlers; an endpoint handles each message type once`);
    routes.set(contract.name, route);
    topics.add(contract.name);
  };

  const builder: EndpointBuilder = {
    on(contract, handler, handlerOptions) {
      if (contract?.kind !== 'event' && contract?.kind !== 'command') {
        throw new ConfigurationError(
          `endpoint ${name}: e.on takes an event or command contract${(contract as AnyContract | undefined)?.kind === 'query' ? '; answer queries with e.reply' : ''}`,
        );
      }
      if (typeof handler !== 'function')
        throw new ConfigurationError(`endpoint ${name}: the handler of ${contract.name} is not a function`);
      add(contract, { kind: 'handler', contract, run: handler, retry: policyOf(handlerOptions) });
      return builder;
    },
    reply(query, responder, handlerOptions) {
      if (query?.kind !== 'query') throw new ConfigurationError(`endpoint ${name}: e.reply takes a query contract`);
      if (typeof responder !== 'function')
        throw new ConfigurationError(`endpoint ${name}: the responder of ${query.name} is not a function`);
      add(query, { kind: 'responder', contract: query, run: responder, retry: policyOf(handlerOptions) });
      return builder;
    },
    tap(patterns, handler, handlerOptions) {
      const list = typeof patterns === 'string' ? [patterns] : [...patterns];
      if (list.length === 0) throw new ConfigurationError(`endpoint ${name}: e.tap needs at least one topic pattern`);
      if (typeof handler !== 'function') throw new ConfigurationError(`endpoint ${name}: the tap handler is not a function`);
      const route: Route = { kind: 'tap', contract: undefined, run: handler as Route['run'], retry: policyOf(handlerOptions) };
      for (const pattern of list) {
        checkTopicPattern(pattern);
        taps.push({ matches: topicMatcher(pattern), route });
        topics.add(pattern);
      }
      return builder;
    },
    use(...added) {
      for (const m of added) if (typeof m !== 'function') throw new ConfigurationError(`endpoint ${name}: middleware must be functions`);
      middleware.push(...added);
      return builder;
    },
  };
  configure(builder);
  if (routes.size === 0 && taps.length === 0) throw new ConfigurationError(`endpoint ${name} has no handlers: add e.on, e.reply or e.tap`);
  return {
    name,
    routes,
    taps,
    topics: [...topics],
    middleware,
    concurrency,
    prefetch,
    expired,
    maxDeliveries,
    circuitBreaker: options.circuitBreaker ?? false,
    rateLimit: options.rateLimit,
    ordered: options.ordered ?? [...routes.values()].some((route) => route.contract?.partitionKey !== undefined),
    commands: [...routes.values()].filter((r) => r.contract !== undefined && r.contract.kind !== 'event').map((r) => r.contract!.name),
    takeOver: options.takeOver === true,
  };
}

/** Finds the route of a message type: its handler first, else the first matching tap. */
export function routeOf(definition: EndpointDefinition, type: string): Route | undefined {
  const route = definition.routes.get(type);
  if (route !== undefined) return route;
  for (const tap of definition.taps) if (tap.matches(type)) return tap.route;
  return undefined;
}

export type { CircuitState };
