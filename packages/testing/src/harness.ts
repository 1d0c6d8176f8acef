/**
 * A test harness for code built on Missive: buses on one in-process memory broker, a virtual
 * clock, a deterministic wait for quiescence, and records of what was published, sent, consumed
 * and dead-lettered.
 *
 * @example
 * ```ts
 * const h = createTestHarness();
 * const bus = h.bus('billing');
 * bus.endpoint('billing', (e) => e.on(OrderPlaced, bill));
 * await bus.start();
 * await bus.publish(OrderPlaced, { orderId: 'o-1' });
 * await h.idle();
 * expect(h.consumed.map((c) => c.envelope.type)).toEqual(['shop.order-placed']);
 * await h.stop();
 * ```
 * @module
 */
import { createBus, MemoryBroker, type Bus, type BusOptions, type Envelope, type ConsumeContext, type PublishContext } from '@missive/core';
import { VirtualClock } from './virtual-clock.js';
import { createWaiter, type Waiter } from './wait.js';

/** A record of one dead-lettered message. */
export interface DeadLetterRecord {
  readonly service: string;
  readonly endpoint: string;
  readonly messageId: string;
  readonly type: string;
  readonly reason: string;
  readonly error: Error;
}

/** The harness. */
export interface TestHarness {
  readonly clock: VirtualClock;
  readonly broker: MemoryBroker;
  /** Every message any bus of the harness put on the wire, in order. */
  readonly published: Envelope[];
  /** Every message a handler of any bus was called with (each attempt). */
  readonly consumed: { readonly service: string; readonly endpoint: string; readonly envelope: Envelope; readonly attempt: number }[];
  readonly deadLettered: DeadLetterRecord[];
  /** A bus on the harness's broker and clock; extra options are passed through. */
  bus(service: string, options?: Partial<Omit<BusOptions, 'service' | 'transport' | 'clock'>>): Bus;
  /** Resolves when nothing more happens without time passing. */
  idle(): Promise<void>;
  /** Moves virtual time forward, running what falls due. */
  advance(ms: number): Promise<void>;
  /** Runs (moving virtual time as needed) until `condition` holds. */
  until(condition: () => boolean, what: string): Promise<void>;
  /** Stops every bus of the harness. */
  stop(): Promise<void>;
  readonly waiter: Waiter;
}

/** Creates a harness. */
export function createTestHarness(options: { readonly start?: number } = {}): TestHarness {
  const clock = new VirtualClock(options.start);
  const broker = new MemoryBroker({ clock });
  const buses: Bus[] = [];
  const published: Envelope[] = [];
  const consumed: TestHarness['consumed'] = [];
  const deadLettered: DeadLetterRecord[] = [];
  const waiter = createWaiter({ clock, quiet: () => broker.isQuiet(), activity: () => broker.activity });

  return {
    clock,
    broker,
    published,
    consumed,
    deadLettered,
    waiter,
    bus(service, extra = {}) {
      const recordPublish = async (ctx: PublishContext, next: () => Promise<void>) => {
        await next();
        published.push(ctx.envelope);
      };
      const recordConsume = async (ctx: ConsumeContext, next: () => Promise<void>) => {
        consumed.push({ service, endpoint: ctx.endpoint, envelope: ctx.envelope, attempt: ctx.attempt });
        await next();
      };
      const bus = createBus({
        stopTimeoutMs: 1000,
        ...extra,
        service,
        transport: broker.transport(),
        clock,
        middleware: {
          consume: [recordConsume, ...(extra.middleware?.consume ?? [])],
          publish: [recordPublish, ...(extra.middleware?.publish ?? [])],
        },
      });
      bus.on('dead-lettered', (event) => deadLettered.push({ service, ...event }));
      buses.push(bus);
      return bus;
    },
    idle: () => waiter.settle(),
    advance: (ms) => waiter.advance(ms),
    until: (condition, what) => waiter.until(condition, what),
    async stop() {
      await Promise.all(buses.map((b) => b.stop()));
    },
  };
}
