/**
 * What every conformance case gets: buses and raw connections on the transport under test, unique
 * names for the run, a clock (virtual on the memory transport, real on brokers), a waiter, and a
 * cleanup that stops every bus and deletes every queue the case declared.
 *
 * @example
 * ```ts
 * const env = await createEnvironment(target);
 * const Ping = env.event('ping', z.object({ n: z.number() }));
 * const bus = env.bus('svc');
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  silentLogger,
  systemClock,
  type Bus,
  type BusOptions,
  type Clock,
  type CommandContract,
  type ContractOptions,
  type EventContract,
  type QueryContract,
  type Transport,
} from '@missive/core';
import { VirtualClock } from '../virtual-clock.js';
import { createWaiter, type Waiter } from '../wait.js';

/** The capabilities a conformance target declares; cases that need one it lacks are skipped with the reason. */
export interface ConformanceFeatures {
  /** Consumers can run in child processes and be killed (needs `url` on the fixture). Default false. */
  readonly processes: boolean;
  /** The transport keeps per-key order (capability `orderingKeys`). Default true. */
  readonly orderingKeys: boolean;
  /** Scheduled messages can be cancelled (capability `cancelScheduled`). Default true. */
  readonly cancelScheduled: boolean;
  /** The transport records command owners across connections (`transport.commandOwners`). Default true. */
  readonly commandOwners: boolean;
  /** `queues()` reports `consumers` for every queue. Default true. */
  readonly consumerCounts: boolean;
  /** `queues()` reports `idleSince` for a queue without consumers. Default true. */
  readonly idleSince: boolean;
  /** The fixture's broker can be killed and started again (`fixture.broker`). Default false. */
  readonly brokerRestart: boolean;
  /** Connections can go through a fault proxy (`fixture.network`): outages, cuts, a blackholed link. Default false. */
  readonly networkFaults: boolean;
  /** With `networkFaults`: the connection notices a link that drops every packet (heartbeats) and reconnects. Default false. */
  readonly halfOpen: boolean;
  /**
   * A delivery held by a live process whose event loop is blocked moves to another instance (a
   * lease or visibility timeout expires, or missed heartbeats drop the holder's connection). Needs
   * `processes`. Default false.
   */
  readonly leases: boolean;
  /** The queues live in a file the fixture can put in a folder of the test's (`fixture.onDisk`): a full disk. Default false. */
  readonly diskFull: boolean;
}

/** The features a target has unless it says otherwise. */
export const DEFAULT_FEATURES: ConformanceFeatures = Object.freeze({
  processes: false,
  orderingKeys: true,
  cancelScheduled: true,
  commandOwners: true,
  consumerCounts: true,
  idleSince: true,
  brokerRestart: false,
  networkFaults: false,
  halfOpen: false,
  leases: false,
  diskFull: false,
});

/** How a fixture's connections can be sent through a fault proxy (feature `networkFaults`). */
export interface NetworkAccess {
  /** Where the broker listens (what a proxy forwards to). */
  readonly host: string;
  readonly port: number;
  /**
   * A new, not yet connected, connection to the broker through `127.0.0.1:<port>` (a fault proxy),
   * with the options the network scenarios need (short heartbeats, a small publish buffer).
   */
  connect(port: number): Transport;
  /** How often the connection checks the link (heartbeat, ping), ms: a dead link is noticed within about two. */
  readonly heartbeatMs: number;
  /** The longest pause between two reconnect attempts, ms (the backoff's cap, jitter excluded). */
  readonly reconnectCapMs: number;
  /** How many publishes may wait for a lost connection at once; more fail at once (undefined: no such bound). */
  readonly maxBuffered?: number;
  /**
   * A known defect, stated: reconnect attempts are not bounded to one backoff per connection
   * (each waiting operation retries on its own). The outage scenario then records the attempt
   * rate without failing on it. Remove once fixed.
   */
  readonly unboundedReconnects?: string;
}

/** One broker for one case. */
export interface ConformanceFixture {
  /** A new, not yet connected, connection to the broker. */
  connect(): Transport;
  /** The transport URL, for child processes. */
  readonly url?: string;
  /** Virtual-clock targets: whether the broker has no work left that needs no time. */
  quiet?(): boolean;
  /** Virtual-clock targets: a counter of broker progress (see `MemoryBroker.activity`). */
  activity?(): number;
  /** A broker of the case's own that it may crash: SIGKILL, and start again on the same data. */
  readonly broker?: { kill(): Promise<void>; start(): Promise<void> };
  /** Feature `networkFaults`: connections through a fault proxy. */
  readonly network?: NetworkAccess;
  /** Feature `leases`: the URL a child process whose event loop will be blocked uses (default `url`). */
  readonly blockedLoopUrl?: string;
  /** Feature `diskFull`: connections to queues kept in `dir` (a small tmpfs the scenario fills). */
  onDisk?(dir: string): { connect(): Transport };
  /** Called after the case, after its buses stopped and its queues were deleted. */
  teardown?(): Promise<void>;
}

/** A transport under test. */
export interface ConformanceTarget {
  /** Shown in the suite's title. */
  readonly name: string;
  /** Creates the fixture of one case. `clock` is what the case's buses use. */
  setup(clock: Clock): ConformanceFixture | Promise<ConformanceFixture>;
  /** Drive time with a virtual clock (only for transports whose waiting goes through the clock). */
  readonly virtualClock?: boolean;
  readonly features?: Partial<ConformanceFeatures>;
  /** A reason to skip every case (the broker is unreachable), or undefined to run them. */
  readonly unavailable?: () => Promise<string | undefined>;
}

/** The environment of one case. */
export interface Environment {
  readonly clock: Clock;
  readonly waiter: Waiter;
  readonly features: ConformanceFeatures;
  readonly fixture: ConformanceFixture;
  /** A run-unique name (for endpoints and queues). */
  name(base: string): string;
  event<S extends StandardSchemaV1>(
    base: string,
    schema: S,
    options?: ContractOptions<StandardSchemaV1.InferOutput<S>>,
  ): EventContract<string, S>;
  command<S extends StandardSchemaV1>(
    base: string,
    schema: S,
    options?: ContractOptions<StandardSchemaV1.InferOutput<S>>,
  ): CommandContract<string, S>;
  query<S extends StandardSchemaV1, R extends StandardSchemaV1>(base: string, schema: S, reply: R): QueryContract<string, S, R>;
  /** The prefix of this run's message types (for tap patterns). */
  readonly prefix: string;
  /** A bus on a new connection (or on `transport`); stopped at cleanup. Retries default to none. */
  bus(service: string, options?: Partial<Omit<BusOptions, 'service' | 'transport'>>, transport?: Transport): Bus;
  /** A connected raw transport; closed at cleanup. */
  transport(): Promise<Transport>;
  /** A topic name unique to this run (`<prefix>.<base>`), deleted at cleanup where topics leave something behind. */
  topic(base: string): string;
  /** Remembers a queue to delete at cleanup. */
  track(queue: string): void;
  until(condition: () => boolean, what: string): Promise<void>;
  /** Waits until an asynchronously read value is accepted; resolves with it. */
  eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T>;
  /**
   * Lets in-flight work finish before a "this did not happen" check. Virtual: everything that needs
   * no time. Real: a quiet period measured on the broker: the case's queues hold nothing (waiting or
   * in flight, as `queues()` reports), no bus of the case handles a message, and nothing was handled
   * for 100 ms (see `Waiter.settle`).
   */
  settle(): Promise<void>;
  /** Moves virtual time; a no-op under the real clock. */
  advance(ms: number): Promise<void>;
  /** Stops the buses, deletes the queues, tears the fixture down; once, however often called. */
  cleanup(): Promise<void>;
}

/** Builds the environment of one case; `waitTimeoutMs` limits each real-time wait (default 20 s). */
export async function createEnvironment(
  target: ConformanceTarget,
  options: { readonly waitTimeoutMs?: number } = {},
): Promise<Environment> {
  const virtual = target.virtualClock === true ? new VirtualClock() : undefined;
  const clock: Clock = virtual ?? systemClock;
  const fixture = await target.setup(clock);
  const buses: Bus[] = [];
  const queues = new Set<string>();
  let observer: Promise<Transport> | undefined;
  /** Real clock: whether the broker holds messages of this case's queues, or a bus of it handles one. */
  const busy = async (): Promise<boolean> => {
    for (const bus of buses) {
      if (bus.started && Object.values(bus.stats().endpoints).some((e) => e.inFlight > 0)) return true;
    }
    if (queues.size === 0) return false;
    observer ??= env.transport();
    const infos = await (await observer).queues();
    return infos.some((q) => queues.has(q.name) && (q.depth > 0 || q.inFlight > 0));
  };
  /** Real clock: grows with every message a bus of this case handled, failed, retried or dead-lettered. */
  const progress = (): number => {
    let n = 0;
    for (const bus of buses) {
      if (!bus.started) continue;
      for (const e of Object.values(bus.stats().endpoints))
        n += e.handled + e.failed + e.retried + e.redelivered + e.deadLettered + e.expired;
    }
    return n;
  };
  const waiter = createWaiter({
    clock: virtual,
    quiet: () => fixture.quiet?.() ?? true,
    activity: virtual === undefined ? progress : () => fixture.activity?.() ?? 0,
    busy,
    timeoutMs: options.waitTimeoutMs,
  });
  const run = randomBytes(4).toString('hex');
  const prefix = `t${run}`;
  const transports: Transport[] = [];
  const topics = new Set<string>();
  const topic = (base: string) => {
    const name = `${prefix}.${base}`;
    topics.add(name);
    return name;
  };
  const features: ConformanceFeatures = { ...DEFAULT_FEATURES, ...target.features };

  const env: Environment = {
    clock,
    waiter,
    features,
    fixture,
    prefix,
    name: (base) => `${base}-${run}`,
    event: (base, schema, options) => defineEvent(topic(base), schema, options),
    command: (base, schema, options) => defineCommand(topic(base), schema, options),
    query: (base, schema, reply) => defineQuery(topic(base), schema, reply),
    topic,
    bus(service, options = {}, given) {
      const transport = given ?? fixture.connect();
      const bus = createBus({
        logger: silentLogger,
        retry: { immediate: 0, delayed: false },
        stopTimeoutMs: 2000,
        requestTimeoutMs: 10_000,
        ...options,
        clock,
        service,
        transport,
      });
      const endpoint = bus.endpoint.bind(bus);
      bus.endpoint = (name: string, configure: never, endpointOptions?: never) => {
        queues.add(name);
        return endpoint(name, configure, endpointOptions);
      };
      buses.push(bus);
      return bus;
    },
    async transport() {
      const transport = fixture.connect();
      await transport.connect();
      transports.push(transport);
      return transport;
    },
    track: (queue) => void queues.add(queue),
    until: (condition, what) => waiter.until(condition, what),
    eventually: (probe, accept, what) => waiter.eventually(probe, accept, what),
    settle: () => waiter.settle(),
    advance: (ms) => waiter.advance(ms),
    cleanup() {
      cleaning ??= cleanUp();
      return cleaning;
    },
  };
  let cleaning: Promise<void> | undefined;
  // Once, however often it is called (a scenario may clean up before closing its fault proxy).
  async function cleanUp(): Promise<void> {
    await Promise.allSettled(buses.map((b) => b.stop({ timeoutMs: 0 })));
    await Promise.allSettled(transports.map((t) => t.close()));
    if (queues.size > 0 || topics.size > 0) {
      const admin = fixture.connect();
      try {
        await admin.connect();
        for (const queue of queues) await admin.deleteQueue(queue);
        if (admin.deleteTopic !== undefined) for (const name of topics) await admin.deleteTopic(name);
      } finally {
        await admin.close();
      }
    }
    await fixture.teardown?.();
  }
  return env;
}
