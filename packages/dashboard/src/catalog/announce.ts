/**
 * Makes a bus announce itself to the live catalog: on start, every `intervalMs` (a heartbeat), on
 * stop, and whenever a catalog asks (a ping, so `missive services` answers at once). Announcements
 * go straight to the transport from a component, so they need no endpoint of the application's and
 * reach every catalog on any transport; the bus's own queue for pings is deleted when the bus stops
 * (and by the broker with the connection, where the transport has temporary queues with topics).
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'payment', transport: 'sqlite://.missive/bus.db' });
 * announce(bus, { version: '1.4.0' });
 * await bus.start(); // announced; heartbeats every 10 s
 * ```
 * @module
 */
import {
  ConfigurationError,
  consoleLogger,
  createEnvelope,
  jsonCodec,
  sourceOf,
  systemClock,
  type Bus,
  type BusComponent,
  type Clock,
  type Logger,
  type Transport,
} from '@missive/core';
import type { Consumer } from '@missive/core/transport';
import { ANNOUNCED, announcementOf, PING, type Announcement } from './announcement.js';
import { declareListenerQueue } from './listener-queue.js';

/** Options of {@link announce}. */
export interface AnnounceOptions {
  /** The service's version, shown in the catalog. */
  readonly version?: string;
  /** Heartbeat interval, ms. Default 10 s; an instance is stale after three missed. */
  readonly intervalMs?: number;
  /** Where a failed announcement is reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** Announces `bus` to the catalog while it runs. Call before `bus.start()`. */
export function announce(bus: Bus, options: AnnounceOptions = {}): void {
  const intervalMs = options.intervalMs ?? 10_000;
  if (!Number.isFinite(intervalMs) || intervalMs < 100)
    throw new ConfigurationError(`announce intervalMs must be at least 100, got ${String(options.intervalMs)}`);
  const logger = options.logger ?? consoleLogger('warn');
  const clock = options.clock ?? systemClock;
  // Always JSON, whatever the bus's codec: every catalog reads announcements the same way.
  const codec = jsonCodec();
  let transport: Transport | undefined;
  let consumer: Consumer | undefined;
  let loop: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let startedAt = 0;
  const pingQueue = `missive-catalog.${bus.service}.${bus.instanceId}`;

  const send = async (state: Announcement['state']): Promise<void> => {
    if (transport === undefined) return;
    const health = bus.health();
    const data = announcementOf(bus.describe(), { state, version: options.version, intervalMs, at: clock.now(), startedAt, health });
    const envelope = createEnvelope({ type: ANNOUNCED, source: sourceOf(bus.service), data, kind: 'event', time: new Date(clock.now()) });
    await transport.publish(ANNOUNCED, { id: envelope.id, type: ANNOUNCED, body: codec.encode(envelope), headers: {} });
  };
  const sendLogged = (state: Announcement['state']) =>
    send(state).catch((error: unknown) => logger.warn({ err: error }, 'could not announce to the service catalog'));

  const component: BusComponent = {
    async start(t) {
      transport = t;
      startedAt = clock.now();
      await declareListenerQueue(t, pingQueue, [PING]);
      consumer = t.consume(pingQueue, { prefetch: 4 });
      const pings = consumer;
      loop = (async () => {
        for await (const delivery of pings) {
          await delivery.ack();
          await sendLogged('heartbeat');
        }
      })().catch((error: unknown) => logger.warn({ err: error }, 'the service catalog ping listener stopped'));
      await send('started');
      timer = setInterval(() => void sendLogged('heartbeat'), intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await sendLogged('stopped');
      await consumer?.close();
      await loop;
      await transport?.deleteQueue(pingQueue).catch(() => undefined);
      transport = undefined;
    },
  };
  bus.attach(component);
}
