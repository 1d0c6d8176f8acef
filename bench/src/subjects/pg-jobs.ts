/**
 * The competing-consumers check on PostgreSQL: a worker process consumes a Missive queue (filled
 * beforehand) and reports every order it handled, so the parent can tell whether any message ran
 * twice or none at all. `work` ms of simulated work per message.
 *
 * @module
 */
import { createBus, defineEvent, silentLogger } from '@missive/core';
import type { Ipc } from '../harness/ipc.js';
import { orderSchema } from '../harness/payload.js';

interface WorkerArgs {
  readonly url: string;
  readonly name: string;
  readonly prefetch: number;
  readonly concurrency: number;
  readonly workMs: number;
}

/** One worker: handles until told to stop; returns the order ids it handled (with repeats). */
export async function jobsWorker(args: WorkerArgs, ipc: Ipc): Promise<{ ids: string[] }> {
  const contract = defineEvent(`bench.${args.name}`, orderSchema);
  const ids: string[] = [];
  const bus = createBus({ service: 'bench-jobs', transport: args.url, logger: silentLogger, stopTimeoutMs: 5000 });
  bus.endpoint(
    args.name,
    (e) =>
      e.on(contract, async (order) => {
        if (args.workMs > 0) await new Promise((resolve) => setTimeout(resolve, args.workMs));
        ids.push(order.orderId);
      }),
    { prefetch: args.prefetch, concurrency: args.concurrency },
  );
  await bus.start();
  ipc.send('ready', {});
  const progress = setInterval(() => ipc.send('progress', ids.length), 100);
  await ipc.next('stop');
  clearInterval(progress);
  await bus.stop();
  return { ids };
}
