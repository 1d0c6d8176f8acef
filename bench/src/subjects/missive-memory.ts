/**
 * Missive on its memory transport (`memory://`): one bus publishes `bench.order-placed` and an
 * endpoint of the same bus handles it, with the payload checked against its zod schema on the way
 * out and on the way in (the defaults).
 *
 * @module
 */
import { createBus, defineEvent } from '@missive/core';
import { ORDER_TOPIC, orderSchema, type Order } from '../harness/payload.js';
import type { CreatePair } from '../harness/subject.js';

export const OrderPlaced = defineEvent(ORDER_TOPIC, orderSchema);

export const createPair: CreatePair = async (args, onMessage) => {
  const bus = createBus({ service: 'bench', transport: 'memory://', validateOutgoing: args['validateOutgoing'] !== false });
  bus.endpoint(args.name, (e) => e.on(OrderPlaced, (order) => onMessage(order as Order)), {
    concurrency: args.concurrency,
    prefetch: args.prefetch,
  });
  await bus.start();
  return {
    publish: (order) => bus.publish(OrderPlaced, order),
    close: () => bus.stop(),
  };
};
