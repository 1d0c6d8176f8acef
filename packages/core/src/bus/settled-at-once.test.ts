import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../contracts/contract.js';
import { silentLogger } from '../logger.js';
import { jsonCodec } from '../message/codec.js';
import { createEnvelope } from '../message/envelope.js';
import { BufferedConsumer } from '../transport/buffered-consumer.js';
import { SETTLED, SettleOnceDelivery } from '../transport/settle-once-delivery.js';
import type { Transport, TransportMessage } from '../transport/transport.js';
import { createBus } from './bus.js';

const Placed = defineEvent('settled.placed', z.object({ n: z.number() }));
const codec = jsonCodec();

/** A transport of the kit whose acks return `ack()`'s promise; the test hands deliveries over itself. */
function handOverTransport(ack: () => Promise<void>) {
  class HandDelivery extends SettleOnceDelivery {
    readonly deliveryCount = 1;
    constructor(
      owner: HandConsumer,
      readonly message: TransportMessage,
    ) {
      super(owner);
    }
    protected onAck(): Promise<void> {
      return ack();
    }
    protected onNack(): Promise<void> {
      return SETTLED;
    }
    protected onDeadLetter(): Promise<void> {
      return SETTLED;
    }
  }
  class HandConsumer extends BufferedConsumer<HandDelivery> {
    hand(n: number): void {
      const envelope = createEnvelope({ type: Placed.name, source: '/missive/test', data: { n } });
      this.offer(new HandDelivery(this, { id: envelope.id, type: envelope.type, body: codec.encode(envelope), headers: {} }));
    }
    protected detach(): void {}
    protected giveBack(): void {}
  }
  let consumer: HandConsumer | undefined;
  const transport: Transport = {
    kind: 'hand',
    capabilities: { delayedDelivery: false, cancelScheduled: false, orderingKeys: false, multiProcess: true },
    deadLetters: { list: async () => [], count: async () => 0, get: async () => undefined, replay: async () => 0, purge: async () => 0 },
    connect: async () => undefined,
    close: async () => void consumer?.closeNow(),
    declare: async () => undefined,
    publish: async () => undefined,
    send: async () => undefined,
    consume: () => (consumer = new HandConsumer('hand', 8)),
    cancelScheduled: async () => false,
    queues: async () => [],
    deleteQueue: async () => undefined,
  };
  return { transport, hand: (n: number) => consumer!.hand(n) };
}

/** The order of handler calls and `handled` events for two deliveries waiting together. */
async function orderOf(ack: () => Promise<void>): Promise<string[]> {
  const { transport, hand } = handOverTransport(ack);
  const bus = createBus({ service: 'settled', transport, logger: silentLogger });
  const seen: string[] = [];
  bus.endpoint('settled', (e) => e.on(Placed, (order) => void seen.push(`handler ${order.n}`)), { concurrency: 4 });
  bus.on('handled', (event) => seen.push(`handled ${(event.envelope?.data as { n: number }).n}`));
  await bus.start();
  const done = new Promise<void>((resolve) => bus.on('handled', () => seen.length === 4 && resolve()));
  hand(1);
  hand(2);
  await done;
  await bus.stop();
  return seen;
}

describe('a settle done at once', () => {
  it("goes on at once when the transport's ack returns the kit's SETTLED: a delivery is reported before the next one waiting runs", async () => {
    expect(await orderOf(() => SETTLED)).toEqual(['handler 1', 'handled 1', 'handler 2', 'handled 2']);
  });

  it('waits for any other promise, as before: the waiting delivery runs first', async () => {
    expect(await orderOf(() => Promise.resolve())).toEqual(['handler 1', 'handler 2', 'handled 1', 'handled 2']);
  });
});
