/**
 * The ceiling: a bare in-process handoff. `publish` pushes the object on an array and schedules a
 * microtask that hands every queued object to the handler. No copy, no encoding, no validation,
 * no acknowledgement: what any in-process bus costs at the very least.
 *
 * @module
 */
import type { Order } from '../harness/payload.js';
import type { CreatePair } from '../harness/subject.js';

export const createPair: CreatePair = async (_args, onMessage) => {
  let queue: Order[] = [];
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const order of batch) onMessage(order);
  };
  return {
    publish: (order) => {
      queue.push(order);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(drain);
      }
      return Promise.resolve();
    },
    close: async () => undefined,
  };
};
