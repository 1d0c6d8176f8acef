/**
 * Moleculer's local events: a ServiceBroker with no transporter, one service listening to
 * `bench.order-placed`, `broker.emit` to publish (balanced event, handled by one instance).
 * Moleculer hands the payload object over as-is (no serialization in-process) and checks no schema.
 *
 * @module
 */
import Moleculer from 'moleculer';
import { ORDER_TOPIC, type Order } from '../../../dist/harness/payload.js';
import type { CreatePair } from '../../../dist/harness/subject.js';

export const createPair: CreatePair = async (args, onMessage) => {
  const broker = new Moleculer.ServiceBroker({
    nodeID: `bench-${args.name}`,
    logger: false,
    transporter: null,
    metrics: false,
    tracing: false,
  });
  broker.createService({
    name: 'bench',
    events: {
      [ORDER_TOPIC]: {
        handler(ctx: Moleculer.Context<Order>) {
          onMessage(ctx.params);
        },
      },
    },
  });
  await broker.start();
  return {
    publish: (order) => broker.emit(ORDER_TOPIC, order),
    close: () => broker.stop(),
  };
};
